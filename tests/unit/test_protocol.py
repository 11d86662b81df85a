"""Frame parsing: every valid frame is accepted, anything else is a typed ProtocolError, never a crash."""

from __future__ import annotations

import json
import pytest
from hypothesis import given, settings, strategies as st

from realtime import protocol as p
from realtime.frames import all_frames
from realtime.frames.chat import Send, Subscribe

FRAMES = all_frames()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def test_valid_frames_parse():
    frame = FRAMES.parse('{"type":"send","room":3,"client_id":"a-1","body":"hi","ref":"r"}')
    assert isinstance(frame, Send) and frame.room == 3 and frame.ref == "r"
    assert isinstance(FRAMES.parse(b'{"type":"subscribe","room":1,"since":0}'), Subscribe)
    assert FRAMES.parse('{"type":"history","room":1}').limit == 50


@pytest.mark.parametrize("text, code, field", [
    ("nope", "bad_json", None),
    ("[]", "bad_frame", None),
    ('{"type":"fly"}', "unknown_type", "type"),
    ('{"room":1}', "unknown_type", "type"),
    ('{"type":"send","room":"1","client_id":"a","body":"b"}', "bad_frame", "room"),
    ('{"type":"send","room":true,"client_id":"a","body":"b"}', "bad_frame", "room"),
    ('{"type":"send","room":0,"client_id":"a","body":"b"}', "bad_frame", "room"),
    ('{"type":"send","room":1,"client_id":"","body":"b"}', "bad_frame", "client_id"),
    ('{"type":"send","room":1,"client_id":"a","body":7}', "bad_frame", "body"),   # body may be absent (attachments)
    ('{"type":"send","room":1,"client_id":"a","attachments":["7"]}', "bad_frame", "attachments.0"),
    ('{"type":"subscribe","room":1,"since":-1}', "bad_frame", "since"),
    ('{"type":"history","room":1,"limit":100000}', "bad_frame", "limit"),
    ('{"type":"presence","status":"invisible"}', "bad_frame", "status"),
])
def test_invalid_frames_name_the_problem(text, code, field):
    with pytest.raises(p.ProtocolError) as raised:
        FRAMES.parse(text)
    assert raised.value.code == code and raised.value.field == field


def test_ref_is_echoed_even_when_the_frame_is_invalid():
    with pytest.raises(p.ProtocolError) as raised:
        FRAMES.parse('{"type":"send","ref":"abc"}')
    assert raised.value.ref == "abc"


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(["type", "room", "since", "client_id", "body", "ref", "limit",
                                        "before", "target", "seq", "status", "active"]),
                       json_values | st.sampled_from(FRAMES.types), max_size=6))
def test_arbitrary_objects_either_parse_or_raise_protocol_error(raw):
    try:
        frame = FRAMES.parse(json.dumps(raw))
    except p.ProtocolError as error:
        # bad_json: Infinity, huge ints; disallowed_characters: a NUL anywhere, even in a key
        assert error.code in {"bad_frame", "unknown_type", "bad_json", "disallowed_characters"}
        return
    assert frame.type == raw["type"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_arbitrary_bytes_never_crash_the_parser(data):
    try:
        FRAMES.parse(data)
    except p.ProtocolError:
        pass
