"""Bytes on the wire per chat delivery: uncompressed, as Convene compresses, and with context takeover (no server needed).

The load generator's bodies are "xxx…" (cheap to make, but they compress far better than
chat does), so the compression decision is measured here instead: realistic message frames,
built exactly as the server builds them (Event.frame, orjson), are framed as Convene's
websocket protocol frames them (realtime/websocket_protocol.py: permessage-deflate without
context takeover, each frame compressed on its own, once for all its receivers) and, for
comparison, through the websockets library's server protocol with context takeover (uvicorn's
settings: window 2^12, memLevel 5; each socket remembers the previous frames, at the cost of
a compressor per socket and a compression per delivery). Run: `python -m bench.wire`.
"""

from __future__ import annotations

import argparse
import random
import zlib
from datetime import datetime, timedelta, timezone

from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory, ServerPerMessageDeflateFactory
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from realtime.websocket_protocol import text_frame
from rooms.fanout import dumps
from rooms.models import Event, EventKind

# What people write in a webinar chat: short, varied, some repetition ("thanks", questions).
_OPENERS = ["thanks", "great point", "question:", "agree", "could you share the slides?", "hello from",
            "+1", "in our clinic", "how do you", "we tried this in", "sorry, audio dropped", "is there a"]
_WORDS = ("the of and to in is for that with on we our it this as are be at have from or an by not "
          "patients community support referral staff training network session follow-up district "
          "counselling group weekly evidence outcome survey consent privacy volunteers budget rural "
          "clinic hospital mobile data access language translation schedule caseload burnout peer "
          "supervision screening tool adolescents families school teachers outreach funding").split()


def chat_bodies(count: int, seed: int = 9) -> list[str]:
    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        words = [rng.choice(_OPENERS)] + [rng.choice(_WORDS) for _ in range(rng.choice([2, 5, 8, 12, 20, 30]))]
        bodies.append(" ".join(words).capitalize() + rng.choice([".", "?", "!", ""]))
    return bodies


def message_frames(count: int, senders: int = 40, seed: int = 9) -> list[str]:
    """`count` consecutive message frames of one room from `senders` people, as the hub sends them."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 29, 15, 0, tzinfo=timezone.utc)
    names = [f"{rng.choice(['Amina', 'Tomás', 'Priya', 'Kofi', 'Lena', 'Ravi'])} "
             f"{rng.choice(['Wanjiru', 'Herrera', 'Raman', 'Mensah', 'Okafor', 'Novak'])}" for _ in range(senders)]
    frames = []
    for seq, body in enumerate(chat_bodies(count, seed), start=1000):
        sender = rng.randrange(senders)
        event = Event(room_id=42, seq=seq, kind=EventKind.MESSAGE, sender_id=100 + sender,
                      sender_name=names[sender], client_id=f"{rng.getrandbits(64):016x}", body=body,
                      target_seq=None, created_at=start + timedelta(seconds=seq * 0.7, microseconds=rng.randrange(10**6)))
        frames.append(dumps(event.frame()))
    return frames


def _pair(deflate: bool) -> tuple[ServerProtocol, ClientProtocol]:
    """A server and client protocol with the handshake done in memory, as uvicorn would set it up."""
    server_ext = [ServerPerMessageDeflateFactory(server_max_window_bits=12, client_max_window_bits=12,
                                                 compress_settings={"memLevel": 5})] if deflate else None
    client = ClientProtocol(parse_uri("ws://127.0.0.1/ws"),
                            extensions=[ClientPerMessageDeflateFactory()] if deflate else None)
    server = ServerProtocol(extensions=server_ext)
    client.send_request(client.connect())
    for chunk in client.data_to_send():
        server.receive_data(chunk)
    request = server.events_received()[0]
    server.send_response(server.accept(request))
    for chunk in server.data_to_send():
        client.receive_data(chunk)
    client.events_received()
    return server, client


def prepared_bytes_per_frame(frames: list[str], window_bits: int = 15) -> float:
    """Convene's frames: compressed one by one, the same bytes for every receiver."""
    return sum(len(text_frame(text.encode(), window_bits)) for text in frames) / len(frames)


def bytes_per_frame(frames: list[str], deflate: bool) -> float:
    """Frames from a websockets server protocol; `deflate` with context takeover."""
    server, _ = _pair(deflate)
    total = 0
    for text in frames:
        server.send_text(text.encode())
        total += sum(len(chunk) for chunk in server.data_to_send())
    return total / len(frames)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.wire", description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000)
    args = parser.parse_args()
    frames = message_frames(args.frames)
    text = sum(len(f.encode()) for f in frames) / len(frames)
    plain, deflated = bytes_per_frame(frames, False), bytes_per_frame(frames, True)
    prepared = prepared_bytes_per_frame(frames)
    # Per delivery a TCP/IPv4 segment adds 52 bytes (with timestamps) and TLS ≈ 22; both ways the same.
    overhead = 52 + 22
    print(f"message frame JSON: {text:.0f} bytes on average over {len(frames)} frames")
    print(f"websocket bytes per delivery: {plain:.0f} uncompressed; {prepared:.0f} as Convene compresses "
          f"(no context takeover, {1 - prepared / plain:.0%} less); {deflated:.0f} with context takeover "
          f"({1 - deflated / plain:.0%} less)")
    print(f"with TCP/IP + TLS record overhead ({overhead} bytes): {plain + overhead:.0f}, "
          f"{prepared + overhead:.0f} ({1 - (prepared + overhead) / (plain + overhead):.0%} less), "
          f"{deflated + overhead:.0f} ({1 - (deflated + overhead) / (plain + overhead):.0%} less)")
    print(f"zlib {zlib.ZLIB_RUNTIME_VERSION}")


if __name__ == "__main__":
    main()
