"""Plain values of notifications: kinds, channels, room levels, a member's preferences and an inbox entry."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Kind(str, enum.Enum):
    MENTION = "mention"                      # @username, or @room by a moderator
    MESSAGE = "message"                      # a conversation (DM or group) message, or any message at level "all"
    REPLY = "reply"                          # an answer to the member's message (issue 15's replies)
    ALERT = "alert"                          # an emergency alert in the member's room
    WEBINAR_STARTING = "webinar.starting"    # a registered webinar starts in 15 minutes
    WEBINAR_LIVE = "webinar.live"
    RECORDING_READY = "recording.ready"

    @property
    def urgent(self) -> bool:
        """Passes quiet hours and a muted room."""
        return self is Kind.ALERT


class Channel(str, enum.Enum):
    PUSH = "push"
    EMAIL = "email"


class RoomLevel(str, enum.Enum):
    ALL = "all"              # every message
    MENTIONS = "mentions"    # mentions (and replies) only
    NOTHING = "nothing"      # muted


class EmailTiming(str, enum.Enum):
    NOW = "now"              # after a short delay, in case the member reads it in the app meanwhile
    QUARTER = "15min"
    HOURLY = "hourly"
    DAILY = "daily"


# E-mail kinds: what the batcher sends. Webinar kinds have e-mails of their own (rooms/notifications/webinar_mail.py).
BATCHED_KINDS = frozenset({Kind.MENTION, Kind.MESSAGE, Kind.REPLY, Kind.ALERT})
# Preference groups shown to members: the webinar kinds are one choice.
PREFERENCE_KINDS = ("mention", "message", "reply", "alert", "webinar", "recording")


def preference_key(kind: Kind) -> str:
    if kind in (Kind.WEBINAR_STARTING, Kind.WEBINAR_LIVE):
        return "webinar"
    if kind is Kind.RECORDING_READY:
        return "recording"
    return kind.value


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end   # across midnight, e.g. 22:00–07:00

    def public(self) -> dict:
        return {"start": self.start.strftime("%H:%M"), "end": self.end.strftime("%H:%M")}


THEMES = ("light", "dark")   # and "": whatever the device prefers


@dataclass(frozen=True)
class Preferences:
    """A member's choices, kept on the server so they follow the member to every device."""

    channels: dict[str, frozenset[Channel]] = field(default_factory=lambda: {
        key: frozenset({Channel.PUSH, Channel.EMAIL}) for key in PREFERENCE_KINDS})
    email_timing: EmailTiming = EmailTiming.QUARTER
    quiet_hours: QuietHours | None = None
    # Lock screens are not private: for private rooms and conversations a push says who wrote where,
    # and shows the text only when the member asks for it.
    push_previews: bool = False
    language: str = ""
    time_zone: str = ""
    theme: str = ""   # "light" or "dark"; "" follows the device (prefers-color-scheme)

    def wants(self, kind: Kind, channel: Channel) -> bool:
        return channel in self.channels.get(preference_key(kind), frozenset())

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.time_zone) if self.time_zone else ZoneInfo("UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    def quiet_at(self, moment: datetime) -> bool:
        return self.quiet_hours is not None and self.quiet_hours.contains(moment.astimezone(self.zone).time())

    def after_quiet(self, moment: datetime) -> datetime:
        """`moment`, or the end of the quiet hours it falls in (in the member's time zone)."""
        if not self.quiet_at(moment):
            return moment
        assert self.quiet_hours is not None
        local = moment.astimezone(self.zone)
        end = local.replace(hour=self.quiet_hours.end.hour, minute=self.quiet_hours.end.minute, second=0,
                            microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end

    def public(self) -> dict:
        return {
            "channels": {key: sorted(c.value for c in self.channels.get(key, ())) for key in PREFERENCE_KINDS},
            "email_timing": self.email_timing.value,
            "quiet_hours": self.quiet_hours.public() if self.quiet_hours else None,
            "push_previews": self.push_previews,
            "language": self.language,
            "time_zone": self.time_zone,
            "theme": self.theme,
        }

    def stored(self) -> dict:
        data = self.public()
        del data["language"], data["time_zone"]
        return data

    @classmethod
    def from_stored(cls, data: dict | None, language: str = "", time_zone: str = "") -> "Preferences":
        prefs = cls(language=language, time_zone=time_zone)
        if not data:
            return prefs
        channels = dict(prefs.channels)
        for key, values in (data.get("channels") or {}).items():
            if key in PREFERENCE_KINDS:
                channels[key] = frozenset(Channel(v) for v in values if v in ("push", "email"))
        quiet = data.get("quiet_hours")
        return replace(prefs, channels=channels,
                       email_timing=EmailTiming(data.get("email_timing") or prefs.email_timing.value),
                       quiet_hours=QuietHours(time.fromisoformat(quiet["start"]), time.fromisoformat(quiet["end"]))
                       if quiet else None,
                       push_previews=bool(data.get("push_previews", False)),
                       theme=data.get("theme") if data.get("theme") in THEMES else "")


@dataclass(frozen=True)
class Notification:
    id: int
    member_id: int
    kind: Kind
    room_id: int
    seq: int
    actor_id: int | None
    actor_name: str
    room_name: str
    room_kind: str
    private: bool
    excerpt: str
    data: dict
    created_at: datetime
    read: bool

    @property
    def url(self) -> str:
        if self.data.get("url"):
            return self.data["url"]
        return f"/rooms/{self.room_id}" + (f"#m-{self.seq}" if self.seq else "")

    def public(self) -> dict:
        return {
            "id": self.id, "kind": self.kind.value, "room": self.room_id, "seq": self.seq,
            "room_name": self.room_name, "room_kind": self.room_kind,
            "actor": {"id": self.actor_id, "display_name": self.actor_name} if self.actor_id else None,
            "excerpt": self.excerpt, "url": self.url, "data": self.data,
            "created_at": self.created_at.isoformat(), "read": self.read,
        }
