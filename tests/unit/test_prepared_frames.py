"""A frame fanned out to a room is compressed once, and every client decodes the same bytes."""

from __future__ import annotations

from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Frame
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from realtime.websocket_protocol import PreparedFrames, shared_deflate


def client_after_handshake() -> ClientProtocol:
    """A client that negotiated with the server's default compression, in memory."""
    client = ClientProtocol(parse_uri("ws://127.0.0.1/ws"), extensions=[ClientPerMessageDeflateFactory()])
    server = ServerProtocol(extensions=[shared_deflate()])
    client.send_request(client.connect())
    for chunk in client.data_to_send():
        server.receive_data(chunk)
    server.send_response(server.accept(server.events_received()[0]))
    for chunk in server.data_to_send():
        client.receive_data(chunk)
    client.events_received()
    return client


def test_a_fanned_out_frame_is_compressed_once_and_decodes_for_every_client():
    prepared = PreparedFrames()
    text = '{"type":"message","room":1,"seq":7,"body":"' + "hello from the field " * 10 + '"}'
    first = prepared.wire(text, 15)
    assert prepared.wire(text, 15) is first            # the same bytes for every socket
    assert first[0] & 0x40 and len(first) < len(text)  # RSV1: compressed
    assert prepared.wire("{}", 15) == b"\x81\x02{}"    # too small to gain from compression
    other = prepared.wire(text.replace("7", "8"), 15)
    for _ in range(2):   # two clients, each with its own decompressor
        client = client_after_handshake()
        client.receive_data(first + other + first)
        frames = [event for event in client.events_received() if isinstance(event, Frame)]
        assert [bytes(frame.data).decode() for frame in frames] == [text, text.replace("7", "8"), text]


def test_frames_small_and_large_decode_whichever_compressor_size_made_them():
    # Chat-sized frames are compressed with a quarter-size hash table, history pages with the full one.
    from realtime.websocket_protocol import COMPRESS_SMALL_BYTES, text_frame

    words = "field team clinic water referral psychosocial support session tomorrow ".split()
    texts = ['{"type":"message","body":"' + " ".join(words[(i * 7 + n) % len(words)] for i in range(n)) + '"}'
             for n in (30, COMPRESS_SMALL_BYTES // 10, COMPRESS_SMALL_BYTES // 4)]
    assert len(texts[0]) < COMPRESS_SMALL_BYTES < len(texts[-1])
    for window_bits in (15, 12, 9):
        client = client_after_handshake()
        wire = [text_frame(text.encode(), window_bits) for text in texts]
        assert all(frame[0] & 0x40 for frame in wire)   # all compressed
        client.receive_data(b"".join(wire))
        frames = [event for event in client.events_received() if isinstance(event, Frame)]
        assert [bytes(frame.data).decode() for frame in frames] == texts


def test_a_small_frame_gets_a_window_its_size_and_the_same_bytes_as_with_the_whole_window():
    import zlib

    from realtime.websocket_protocol import COMPRESS_LEVEL, COMPRESS_MEM_LEVEL_SMALL, text_frame

    for n in (200, 700, 3000, 8000):
        data = ('{"type":"message","body":"' + "the clinic opens at nine, bring the referral forms " * 200)[:n].encode()
        whole = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, -15, COMPRESS_MEM_LEVEL_SMALL)
        payload = (whole.compress(data) + whole.flush(zlib.Z_SYNC_FLUSH))[:-4]
        frame = text_frame(data, 15)
        assert frame.endswith(payload) and len(frame) - len(payload) in (2, 4)   # header, then the same bytes


def test_replayed_frames_are_compressed_once_and_the_least_recently_replayed_forgotten():
    from realtime.websocket_protocol import ReplayedFrames

    replayed = ReplayedFrames(size=3)
    texts = ['{"type":"message","seq":%d,"body":"%s"}' % (n, "from the field " * 10) for n in range(5)]
    first = replayed.wire(texts[0], 15)
    assert replayed.wire(texts[0], 15) is first                        # the next member's replay: same bytes
    assert replayed.wire(str(texts[0]), 15) is first                   # an equal text read again from the store
    assert replayed.wire(texts[0], 0) != first                         # another window, other bytes
    second = replayed.wire(texts[1], 15)                               # full: (0, 0), (0, 15) and (1, 15)
    assert replayed.wire(texts[0], 15) is first                        # used again: now the most recent
    replayed.wire(texts[2], 15)                                        # drops (0, 0), the least recently used
    assert replayed.wire(texts[0], 15) is first
    replayed.wire(texts[3], 15)                                        # drops texts[1]
    assert replayed.wire(texts[1], 15) is not second                   # forgotten, made again
    assert replayed.wire(texts[1], 15) == second
    client = client_after_handshake()
    client.receive_data(b"".join(replayed.wire(text, 15) for text in texts))
    assert [bytes(f.data).decode() for f in client.events_received() if isinstance(f, Frame)] == texts
