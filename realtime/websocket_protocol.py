"""uvicorn's sans-I/O websocket protocol, with a direct path for fan-out (`--ws realtime.websocket_protocol:ConveneWebSocketProtocol`).

Two changes to the protocol uvicorn ships, both for the thousand-member webinar room:

- **Frames are written straight to the socket.** The app finds a `FrameSink` under the
  `convene.socket` ASGI extension and writes frames synchronously while the socket keeps up:
  no writer task per socket and no await per frame. When the socket's buffer passes its high-water
  mark the app queues (its bounded outbox), and `on_ready` asks for the queue to be written once
  the buffer drains.
- **Per-message compression without context takeover, prepared once.** With context takeover
  each socket keeps a compressor (about 40 KiB) and compresses every frame again for itself;
  without it a frame's compressed bytes are the same for every socket, so a message fanned out
  to a room is compressed and framed once and the same bytes are written to every member
  (`PreparedFrames`). Client frames are decompressed without a kept context too, so an idle socket
  holds no zlib state at all. The cost is a lower ratio on small frames: a chat message is 23 %
  smaller instead of 70 % (`python -m bench.wire`). A member saving data asks for the better ratio
  with `?compression=context` at the handshake (docs/protocol.md, "Connecting"): that socket gets
  its own compressor with context takeover, and pays for it in server memory and CPU.

- **The handshake request is read once.** uvicorn's HTTP parser has already read the upgrade
  request; it writes it out again and websockets' parser reads it a second time, line by line in a
  generator, which cost more per connect than our whole subscribe. A request in the plain shape
  uvicorn writes is taken apart here in a few splits and handed over as websockets' `Request`;
  anything else (too many or too long lines, another method) still goes through websockets' parser
  and its checks.

- **Keepalive pings go only to silent sockets.** A socket that has sent anything since the last
  ping is alive, so its ping is skipped: for a member in a conversation that saves a frame each
  way every interval (bytes a mobile member pays for) and the server a write. A socket silent for
  a whole interval is pinged as uvicorn does, and closed if its pong does not come in time; a
  dead peer is found within two intervals and the timeout instead of one.

Everything else (handshake, ASGI events, closing) is uvicorn's; only its
per-socket helpers are lighter (the receive queue is our `Outbox`, the writable flag is `Writable`,
and the handshake's request and response are let go once accepted), because an idle socket's
every kilobyte counts ten thousand times.
"""

from __future__ import annotations

import asyncio
import re
import struct
import sys
import zlib
from typing import Any, Callable

from websockets.extensions.permessage_deflate import PerMessageDeflate, ServerPerMessageDeflateFactory
from websockets.datastructures import Headers
from websockets.frames import Opcode
from websockets.http11 import MAX_LINE_LENGTH, MAX_NUM_HEADERS, Request
from websockets.protocol import Protocol, State
from websockets.server import ServerProtocol

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from realtime.connection import Outbox
from rooms import metrics

SOCKET_EXTENSION = "convene.socket"
# Below this, deflate without a shared context saves 10 to 20 bytes a frame (an ack: 110 -> 101 B,
# a presence change 114 -> 95), and costs 6 us (25 to 35 in a busy server, a storm's 37,000 acks and
# presence frames about a second of CPU). A client that counts every byte asks for a context of its
# own (`compression=context`), which compresses these frames to a third.
COMPRESS_MIN_BYTES = 160
COMPRESS_LEVEL = 6
# The compressor lives for one frame. Setting up zlib's hash table is most of the cost of compressing
# a chat-sized frame: a quarter-size table (memLevel 4) gives the same bytes up to a few KiB at a third
# of the CPU (19 -> 6 us for a 250-byte frame); larger frames (a history page) keep the full table.
COMPRESS_MEM_LEVEL_SMALL, COMPRESS_MEM_LEVEL = 4, 8
COMPRESS_SMALL_BYTES = 8192
MIN_WINDOW_BITS = 9          # zlib's smallest raw deflate window
DEFLATE_LOOKAHEAD = 262      # zlib's MIN_LOOKAHEAD: a window of 2**n reaches back 2**n - 262 bytes


class PreparedFrames:
    """The wire bytes of the last text written, per compression window: a fan-out loop writes
    the same str object to every socket of a room, so it is encoded and compressed once."""

    __slots__ = ("_text", "_frames")

    def __init__(self) -> None:
        self._text: str | None = None
        self._frames: dict[int, bytes] = {}

    def wire(self, text: str, window_bits: int) -> bytes:
        """The frame for `text`; window_bits 0 means not compressed."""
        if text is not self._text:
            self._text = text
            self._frames = {}
        frame = self._frames.get(window_bits)
        if frame is None:
            frame = self._frames[window_bits] = text_frame(text.encode(), window_bits)
        return frame


def text_frame(data: bytes, window_bits: int) -> bytes:
    """A server's (unmasked, final) text frame; compressed when that makes it smaller."""
    if window_bits and len(data) >= COMPRESS_MIN_BYTES:
        if len(data) <= COMPRESS_SMALL_BYTES:
            mem_level = COMPRESS_MEM_LEVEL_SMALL
            # No wider a window than the frame: the same bytes out (deflate reaches back at most the
            # window less 262 bytes), and a compressor of a few KiB instead of 128 KiB. In a reconnect
            # storm (75,000 frames compressed) that took the server's CPU from 26 to 21 s: setting up and
            # clearing the big one's buffers costs more than compressing a short frame (19 against 9 us).
            window_bits = max(MIN_WINDOW_BITS, min(window_bits, (len(data) + DEFLATE_LOOKAHEAD - 1).bit_length()))
        else:
            mem_level = COMPRESS_MEM_LEVEL
        compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, -window_bits, mem_level)
        # A sync flush ends with 00 00 ff ff, which permessage-deflate leaves out (RFC 7692 7.2.1).
        payload = (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
        if len(payload) < len(data):
            return _header(len(payload), compressed=True) + payload
    return _header(len(data), compressed=False) + data


def _header(length: int, compressed: bool) -> bytes:
    first = 0x80 | (0x40 if compressed else 0) | Opcode.TEXT.value     # FIN, RSV1 = compressed (RFC 7692)
    if length < 126:
        return bytes((first, length))
    if length < 1 << 16:
        return struct.pack("!BBH", first, 126, length)
    return struct.pack("!BBQ", first, 127, length)


class ReplayedFrames:
    """The wire bytes of recently replayed texts. After a drop (a deploy, a carrier's blip) a room's
    members reconnect together and each replays the same events: compressed once, not once per
    member. A plain dict kept in order of use, the least recently replayed dropped past `size`.

    The members of a room come back over the whole storm, not together: a storm of 10,000 sockets
    over 1,000 rooms lasts about 20 s and replays about 19,000 distinct events. With 8,192 entries
    dropped oldest-first, each event was compressed three times on average, 59,000 compressions in
    all. An entry is the frame (about 250 B) and the key's text, which the room's feed holds anyway
    while the event is recent: about 6 MiB when full."""

    __slots__ = ("size", "_frames")

    def __init__(self, size: int = 16384) -> None:
        self.size = size
        self._frames: dict[tuple[str, int], bytes] = {}

    def wire(self, text: str, window_bits: int) -> bytes:
        key = (text, window_bits)
        frames = self._frames
        frame = frames.pop(key, None)
        if frame is None:
            frame = text_frame(text.encode(), window_bits)
            if len(frames) >= self.size:
                del frames[next(iter(frames))]
        frames[key] = frame   # (again) the most recently used
        return frame


_prepared = PreparedFrames()
_replayed = ReplayedFrames()


class Writable:
    """asyncio.Event's set/clear/is_set/wait for one flag, with a future only while someone waits."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = True
        self._waiters: list[asyncio.Future[None]] = []

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        if self._set:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter


def shared_deflate() -> ServerPerMessageDeflateFactory:
    return ServerPerMessageDeflateFactory(server_no_context_takeover=True, client_no_context_takeover=True)


def per_socket_deflate() -> ServerPerMessageDeflateFactory:
    # uvicorn's window and memory level for a kept context: about 40 KiB per socket.
    return ServerPerMessageDeflateFactory(server_max_window_bits=12, client_no_context_takeover=True,
                                          compress_settings={"memLevel": 5})


def asks_for_context(path: str) -> bool:
    # Not parse_qs: in a profile of connects it was most of this handshake step's cost.
    query = path.partition("?")[2]
    return bool(query) and "compression=context" in query.split("&")


# RFC 9110's token and field-value characters, as websockets' parser checks them.
_HEADER_NAME = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_HEADER_VALUE = re.compile(rb"[\x09\x20-\x7e\x80-\xff]*")


def upgrade_request(data: bytes) -> Request | None:
    """The upgrade request uvicorn hands over (`GET <target> HTTP/1.1`, `name: value` lines, the
    blank line, nothing after), or None for anything else, which websockets' parser then judges."""
    head, blank, rest = data.partition(b"\r\n\r\n")
    if not blank or rest or len(head) > MAX_LINE_LENGTH * 4:
        return None
    lines = head.split(b"\r\n")
    if len(lines) > MAX_NUM_HEADERS or any(len(line) > MAX_LINE_LENGTH for line in lines):
        return None
    method, _, target = lines[0].partition(b" ")
    target, _, protocol = target.rpartition(b" ")
    if method != b"GET" or protocol != b"HTTP/1.1" or not target.isascii():
        return None
    headers = Headers()
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        value = value.strip(b" \t")
        if not colon or not _HEADER_NAME.fullmatch(name) or not _HEADER_VALUE.fullmatch(value):
            return None
        headers[name.decode()] = value.decode("latin-1")
    # A request with a body is websockets' to refuse (RFC 7230 3.3.3; only "Content-Length: 0" passes).
    if "Transfer-Encoding" in headers or not set(headers.get_all("Content-Length")) <= {"0"}:
        return None
    return Request(target.decode(), headers)


class ConveneWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: Any = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        extensions = [shared_deflate()] if config.ws_per_message_deflate else []
        self.conn = ServerProtocol(extensions=extensions, max_size=config.ws_max_size, logger=self.logger)
        # uvicorn stops reading while a message waits, so its receive queue holds one or two at a time:
        # asyncio.Queue's three deques are wasted on it.
        self.queue = Outbox(sys.maxsize)   # type: ignore[assignment]
        self.writable = Writable()      # type: ignore[assignment]
        self.on_ready: Callable[[], None] | None = None
        self.context_takeover = False   # this socket compresses with its own kept context
        self._window_bits = -1          # found once the handshake is done: 0 when not compressing
        self._heard = False             # the peer sent something since the last keepalive ping

    def data_received(self, data: bytes) -> None:
        self._heard = True
        if self.handshake_initiated or self.conn.state is not State.CONNECTING:
            super().data_received(data)
            return
        request = upgrade_request(data)
        if request is None:
            super().data_received(data)
            return
        # The request is read: websockets' parser starts at the frames that follow it (what its
        # ServerProtocol.parse does once it has parsed the request itself).
        self.conn.parser = Protocol.parse(self.conn)
        next(self.conn.parser)
        self.handle_connect(request)

    # The extension the app sees: a FrameSink (realtime/connection.py).

    def handle_connect(self, event: Any) -> None:
        if self.config.ws_per_message_deflate and asks_for_context(event.path):
            self.conn.available_extensions = [per_socket_deflate()]
            self.context_takeover = True
        super().handle_connect(event)
        if self.handshake_initiated and not self.handshake_complete:
            # The app's task is created but has not started: it sees the extension.
            self.scope["extensions"][SOCKET_EXTENSION] = self

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.handshake_complete:
            self.request = self.response = None   # type: ignore[assignment]  # the handshake's, done with

    def ready(self) -> bool:
        return (self.writable.is_set() and self.handshake_complete and not self.close_sent
                and not self.disconnected and self.conn.state is State.OPEN)

    def write(self, text: str) -> None:
        if self.context_takeover:
            self.conn.send_text(text.encode())
            self.transport.write(b"".join(self.conn.data_to_send()))
            return
        self.transport.write(_prepared.wire(text, self.window_bits))

    def write_many(self, texts: list[str]) -> None:
        if self.context_takeover:
            for text in texts:
                self.conn.send_text(text.encode())
            self.transport.write(b"".join(self.conn.data_to_send()))
            return
        window_bits = self.window_bits
        self.transport.write(b"".join([_replayed.wire(text, window_bits) for text in texts]))

    @property
    def window_bits(self) -> int:
        """The negotiated compression window for frames without context; 0 when not compressing."""
        if self._window_bits < 0:
            self._window_bits = next((ext.local_max_window_bits for ext in self.conn.extensions
                                      if isinstance(ext, PerMessageDeflate)), 0)
        return self._window_bits

    def close(self, code: int, reason: str) -> None:
        """Closes now, without waiting for the buffer to drain (a slow consumer's never does)."""
        if self.close_sent or self.disconnected or self.transport.is_closing():
            return
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        # A peer that is not reading never answers the close: drop it, buffer and all.
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.abort)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.on_ready is not None:
            self.on_ready()

    def send_keepalive_ping(self) -> None:
        if self._heard and self.ping_interval:
            self._heard = False
            self.ping_timer = self.loop.call_later(self.ping_interval, self.send_keepalive_ping)
            metrics.keepalive_pings_by_outcome["skipped"].inc()
            return
        metrics.keepalive_pings_by_outcome["sent"].inc()
        super().send_keepalive_ping()

    def handle_pong(self, event: Any) -> None:
        super().handle_pong(event)
        self._heard = False   # the pong itself is not a sign of use: the next interval starts silent

    def connection_lost(self, exc: Exception | None) -> None:
        self.on_ready = None
        super().connection_lost(exc)
