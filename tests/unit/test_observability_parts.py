"""The small parts behind metrics and logs: the redacting filter, the JSON lines, the broker envelope's
commit time, and settings that refuse what they do not know."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from dataclasses import fields

import pytest

from realtime import log_context
from realtime.limits.policy import LimitRates
from realtime.logs import ContextFilter, JsonFormatter
from realtime.redaction import RedactingFilter, redact, safe_path
from realtime.settings import Settings
from rooms import metrics
from rooms.fanout import decode, encode_event
from rooms.models import Event, EventKind
from rooms.store.schema import utcnow


@pytest.mark.parametrize("secret, text", [
    ("amina.w@example.org", "mail to amina.w@example.org failed"),
    ("eyJ0b2tlbiI6IngifQ.abc", "Authorization: Bearer eyJ0b2tlbiI6IngifQ.abc"),
    ("s3cret-value", "Cookie: convene_session=s3cret-value; theme=dark"),
    ("hunter2", '{"username": "amina", "password": "hunter2"}'),
    ("AbCdEf012345", "GET /media/recordings/1/video.mp4?exp=17&sig=AbCdEf012345"),
    ("pw-in-url", "could not connect to postgresql://convene:pw-in-url@db.internal:5432/convene"),
    ("Xq7Lr2Vb9Tt4Nm1Kp8Zs3Wd6Yh5Gf0Jc", "token Xq7Lr2Vb9Tt4Nm1Kp8Zs3Wd6Yh5Gf0Jc was refused"),
])
def test_the_filter_masks_what_slipped_into_a_line(secret: str, text: str) -> None:
    assert secret not in redact(text)


def test_the_filter_leaves_ordinary_lines_alone() -> None:
    line = ("room 12: feed failed on a Sequenced item; connection 3f2a9b8c7d6e5f4a; job recordings/7/video.mp4; "
            "password_time_cost=3 realtime.websocket_protocol:ConveneWebSocketProtocol")
    assert redact(line) == line


def test_access_lines_keep_only_harmless_query_values() -> None:
    assert safe_path("/api/search?q=my+private+words&limit=20") == "/api/search?q=…&limit=20"
    assert safe_path("/api/rooms/3/messages?before=120") == "/api/rooms/3/messages?before=120"
    assert safe_path("/healthz") == "/healthz"


def _render(record: logging.LogRecord) -> dict:
    for step in (ContextFilter("server"), RedactingFilter()):
        step.filter(record)
    return json.loads(JsonFormatter().format(record))


def test_a_json_line_names_its_request_member_and_room_and_hides_what_it_must() -> None:
    async def in_a_request() -> dict:
        log_context.request_id.set("trace-7")
        log_context.member_id.set(42)
        log_context.room.set(9)
        try:
            raise ValueError("bad address bob@example.org")
        except ValueError:
            record = logging.LogRecord("rooms.test", logging.ERROR, __file__, 1, "failed for %s", ("bob@example.org",),
                                       sys.exc_info())
        return _render(record)

    line = asyncio.run(in_a_request())
    assert line["request_id"] == "trace-7" and line["member_id"] == 42 and line["room"] == 9
    assert line["level"] == "error" and line["logger"] == "rooms.test" and line["ts"].endswith("Z")
    assert "bob@example.org" not in json.dumps(line) and "ValueError" in line["exception"]


def test_a_line_written_by_the_process_itself_names_its_task() -> None:
    async def background() -> dict:
        record = logging.LogRecord("realtime.hub", logging.INFO, __file__, 1, "checked", (), None)
        return _render(record)

    async def main() -> dict:
        return await asyncio.create_task(background(), name="hub-check")

    line = asyncio.run(main())
    assert line["task"] == "hub-check" and line["request_id"] == "task:hub-check" and "connection_id" not in line


def test_the_commit_time_rides_in_the_envelope_and_old_envelopes_still_read() -> None:
    event = Event(room_id=3, seq=41, kind=EventKind.MESSAGE, sender_id=1, sender_name="A", client_id="c",
                  body="hi", target_seq=None, created_at=utcnow())
    envelope = decode(encode_event(event, 1796600000.123456))
    assert (envelope.kind, envelope.number, envelope.committed_at) == ("E", 41, 1796600000.123456)
    assert json.loads(envelope.frame_text)["seq"] == 41
    old = decode(encode_event(event))
    assert old.number == 41 and old.committed_at is None


def test_every_rate_limit_has_its_metric_label() -> None:
    assert {f.name for f in fields(LimitRates)} <= set(metrics.RATE_LIMITS)


def test_frame_types_are_read_from_our_frames_and_nothing_else_becomes_a_label() -> None:
    assert metrics.frame_type_of('{"type":"message","room":1}') == "message"
    assert metrics.frame_type_of('{"question":"x","type":"question","room":1}') == "question"
    assert metrics.frame_type_of('{"type":"Robert\'); DROP TABLE"}') == "other"


@pytest.mark.parametrize("name, value", [("SQLITE_SYNCHRONOUS", "off"), ("LOG_FORMAT", "xml")])
def test_settings_refuse_unknown_choices(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings.from_env({"SECRET_KEY": "k", name: value})
    assert Settings.from_env({"SECRET_KEY": "k"}).sqlite_synchronous == "full"
    assert Settings.from_env({"SECRET_KEY": "k", "SQLITE_SYNCHRONOUS": "NORMAL"}).sqlite_synchronous == "normal"


def test_the_worker_log_lines_arrive_as_the_servers_own_records(caplog: pytest.LogCaptureFixture) -> None:
    from recordings.live.worker_log import LineFormatter, _relay

    record = logging.LogRecord("recordings.live.picture", logging.WARNING, __file__, 1, "no keyframe yet", (), None)
    stream = io.BytesIO((LineFormatter().format(record) + "\n[libx264 @ 0x1] using cpu capabilities\n").encode())
    with caplog.at_level(logging.INFO):
        _relay(stream)
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("recordings.live.picture", logging.WARNING, "no keyframe yet"),
        ("recordings.live.worker", logging.WARNING, "[libx264 @ 0x1] using cpu capabilities")]
