"""Settings, token buckets and the broker envelope."""

from __future__ import annotations

from datetime import datetime, timezone

from realtime.ratelimit import TokenBucket
from realtime.settings import Settings
from rooms.fanout import decode, encode_ephemeral, encode_event, room_channel, room_of_channel
from rooms.models import Event, EventKind


def test_settings_pick_async_drivers_from_plain_urls(tmp_path):
    env = {"DATABASE_URL": "postgresql://u@h:5/db", "CONVENE_DATA_DIR": str(tmp_path),
           "ALLOWED_ORIGINS": "https://a.example/, https://b.example"}
    settings = Settings.from_env(env)
    assert settings.sqlalchemy_url == "postgresql+asyncpg://u@h:5/db"
    assert settings.allowed_origins == ("https://a.example", "https://b.example")
    embedded = Settings.from_env({"CONVENE_DATA_DIR": str(tmp_path)})
    assert embedded.sqlalchemy_url == f"sqlite+aiosqlite:///{tmp_path}/convene.db"
    # The generated secret is kept, so sessions survive a restart.
    assert Settings.from_env({"CONVENE_DATA_DIR": str(tmp_path)}).secret_key == embedded.secret_key


def test_token_bucket_allows_the_burst_then_says_when_to_retry():
    bucket = TokenBucket(rate=2.0, burst=3)
    assert [bucket.take() for _ in range(3)] == [None, None, None]
    wait = bucket.take()
    assert wait is not None and 0 < wait <= 0.5


def test_envelopes_round_trip():
    event = Event(room_id=7, seq=42, kind=EventKind.MESSAGE, sender_id=1, sender_name="A|B",
                  client_id="c", body="pipes | inside", target_seq=None,
                  created_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    envelope = decode(encode_event(event))
    assert envelope.sequenced and envelope.number == 42 and envelope.frame == event.frame()
    ephemeral = decode(encode_ephemeral({"type": "typing"}, skip_member=5))
    assert not ephemeral.sequenced and ephemeral.number == 5
    assert room_of_channel(room_channel(99)) == 99 and room_of_channel("other") is None
