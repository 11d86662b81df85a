"""The upgrade request read once (realtime/websocket_protocol.py): it must read exactly what
websockets' own parser reads, and leave anything unusual to that parser."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st
from websockets.http11 import Request
from websockets.streams import StreamReader

from realtime.websocket_protocol import upgrade_request

TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=20)
VALUE = st.text(alphabet=st.characters(min_codepoint=0x00, max_codepoint=0xFF, blacklist_characters="\r\n"),
                max_size=60)
TARGET = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789/?=&%._~-", min_size=1, max_size=80).map(lambda t: "/" + t)


def websockets_reads(data: bytes) -> Request:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Request.parse(reader.read_line)
    try:
        next(parser)
    except StopIteration as done:
        return done.value
    raise AssertionError("websockets' parser wanted more data")


def serialized(target: str, headers: list[tuple[str, str]]) -> bytes:
    """What uvicorn's httptools protocol hands the websocket protocol."""
    lines = [f"GET {target} HTTP/1.1".encode()] + [name.encode() + b": " + value.encode("latin-1")
                                                   for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


@settings(max_examples=200, deadline=None)
@given(TARGET, st.lists(st.tuples(TOKEN, VALUE), max_size=20))
def test_reads_what_websockets_reads_or_leaves_it_to_websockets(target: str, headers: list[tuple[str, str]]) -> None:
    data = serialized(target, headers)
    ours = upgrade_request(data)
    try:
        theirs = websockets_reads(data)
    except (ValueError, NotImplementedError):   # websockets refuses it (a control character, a body)
        assert ours is None            # and so it is left to websockets' parser, which refuses it
        return
    assert ours is not None
    assert ours.path == theirs.path
    assert list(ours.headers.raw_items()) == list(theirs.headers.raw_items())


def test_a_browser_handshake() -> None:
    data = serialized("/ws?v=1&compression=context", [
        ("host", "127.0.0.1:8000"), ("upgrade", "websocket"), ("connection", "Upgrade"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="), ("sec-websocket-version", "13"),
        ("sec-websocket-extensions", "permessage-deflate; client_max_window_bits"),
        ("origin", "http://127.0.0.1:8000"), ("cookie", "session=abc; convene_lite=1")])
    request = upgrade_request(data)
    assert request is not None and request.path == "/ws?v=1&compression=context"
    assert request.headers["Sec-WebSocket-Key"] == "dGhlIHNhbXBsZSBub25jZQ=="
    assert request.headers.get_all("cookie") == ["session=abc; convene_lite=1"]


def test_anything_unusual_is_left_to_websockets() -> None:
    good = serialized("/ws", [("host", "x")])
    assert upgrade_request(good) is not None
    assert upgrade_request(good + b"\x81\x00") is None                       # bytes after the request
    assert upgrade_request(good[:-2]) is None                                # no blank line
    assert upgrade_request(good.replace(b"GET", b"POST")) is None
    assert upgrade_request(good.replace(b"HTTP/1.1", b"HTTP/1.0")) is None
    assert upgrade_request(good.replace(b"host: x", b"host x")) is None     # a line without a colon
    assert upgrade_request(serialized("/ws", [("x-h", "v")] * 200)) is None  # too many headers
    assert upgrade_request(serialized("/ws", [("x-h", "v" * 9000)])) is None  # a line too long
    assert upgrade_request(serialized("/wé", [("host", "x")]).replace("é".encode(), "é".encode("latin-1"))) is None


def test_a_request_with_a_body_is_left_to_websockets_which_refuses_it() -> None:
    base = [("host", "127.0.0.1:8000"), ("upgrade", "websocket"), ("connection", "Upgrade")]
    assert upgrade_request(serialized("/ws", base + [("content-length", "0")])) is not None
    for extra in [("content-length", ""), ("content-length", "5"), ("Content-Length", "0, 0"),
                  ("transfer-encoding", "chunked")]:
        data = serialized("/ws", base + [extra])
        assert upgrade_request(data) is None, extra
        try:
            websockets_reads(data)
        except (ValueError, NotImplementedError):
            pass
        else:
            raise AssertionError(f"websockets accepted {extra}")
