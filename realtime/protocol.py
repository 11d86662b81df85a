"""The websocket wire contract in code: client frames parsed and validated, server frames built.

docs/protocol.md is the prose of this module; the tests run that page's examples
against a live server, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, TypeAdapter, ValidationError

from rooms.errors import ConveneError

PROTOCOL_VERSION = 1

# Close codes (docs/protocol.md, "Closing").
CLOSE_SERVICE_RESTART = 1012     # server is shutting down: reconnect (elsewhere) and resume
CLOSE_TRY_AGAIN_LATER = 1013     # the store could not be reached during the handshake
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_SLOW_CONSUMER = 4408       # the client did not read fast enough: reconnect and resume
CLOSE_RATE_LIMITED = 4429
CLOSE_UNSUPPORTED_VERSION = 4400

RoomId = Annotated[StrictInt, Field(gt=0, lt=2**53)]
Seq = Annotated[StrictInt, Field(ge=0, lt=2**53)]
Ref = Annotated[StrictStr, Field(max_length=64)]
ClientId = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
Body = Annotated[StrictStr, Field(max_length=100_000)]   # the real limit is max_body_chars, checked by the service


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    ref: Ref | None = None


class Subscribe(_Frame):
    type: Literal["subscribe"]
    room: RoomId
    since: Seq | None = None


class Unsubscribe(_Frame):
    type: Literal["unsubscribe"]
    room: RoomId


class Send(_Frame):
    type: Literal["send"]
    room: RoomId
    client_id: ClientId
    body: Body


class Edit(_Frame):
    type: Literal["edit"]
    room: RoomId
    target: Seq
    body: Body


class Delete(_Frame):
    type: Literal["delete"]
    room: RoomId
    target: Seq


class History(_Frame):
    type: Literal["history"]
    room: RoomId
    before: Seq | None = None
    limit: Annotated[StrictInt, Field(ge=1, le=1000)] = 50


class Typing(_Frame):
    type: Literal["typing"]
    room: RoomId
    active: StrictBool = True


class Read(_Frame):
    type: Literal["read"]
    room: RoomId
    seq: Seq


class SetPresence(_Frame):
    type: Literal["presence"]
    status: Literal["online", "away"]


class Who(_Frame):
    type: Literal["who"]
    room: RoomId


class Ping(_Frame):
    type: Literal["ping"]


# Emergency rooms (docs/emergency.md).
class PostAlert(_Frame):
    type: Literal["alert"]
    room: RoomId
    client_id: ClientId
    body: Body


class AckAlert(_Frame):
    type: Literal["alert.ack"]
    room: RoomId
    alert: Annotated[StrictInt, Field(gt=0, lt=2**53)]


class PendingAlerts(_Frame):
    type: Literal["alerts"]
    room: RoomId


# Webinar media (docs/protocol.md, "Webinar media"; realtime/media_frames.py).
Sdp = Annotated[StrictStr, Field(min_length=1, max_length=15_000)]   # the frame limit applies first
MediaKind = Literal["audio", "video"]


class MediaPublish(_Frame):
    type: Literal["media.publish"]
    webinar: RoomId
    sdp: Sdp
    kinds: Annotated[list[MediaKind], Field(min_length=1, max_length=2)] = ["audio", "video"]


class MediaView(_Frame):
    type: Literal["media.view"]
    webinar: RoomId
    publisher: RoomId
    sdp: Sdp
    audio_only: StrictBool = False


class MediaWatch(_Frame):
    type: Literal["media.watch"]
    webinar: RoomId


class MediaStop(_Frame):
    type: Literal["media.stop"]
    webinar: RoomId
    publisher: RoomId | None = None   # none: stop publishing; a member: stop viewing them


ClientFrame = Annotated[
    Union[Subscribe, Unsubscribe, Send, Edit, Delete, History, Typing, Read, SetPresence, Who, Ping,
          PostAlert, AckAlert, PendingAlerts, MediaPublish, MediaView, MediaWatch, MediaStop],
    Field(discriminator="type"),
]
_client_frame = TypeAdapter(ClientFrame)
FRAME_TYPES = ("subscribe", "unsubscribe", "send", "edit", "delete", "history",
               "typing", "read", "presence", "who", "ping", "alert", "alert.ack", "alerts",
               "media.publish", "media.view", "media.watch", "media.stop")


class ProtocolError(ConveneError):
    """A frame that could not be understood. The connection stays usable."""

    code = "bad_frame"

    def __init__(self, code: str, message: str, *, ref: str | None = None, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.code = code
        self.ref = ref


def parse(text: str | bytes) -> ClientFrame:
    """Validates one client frame; raises ProtocolError naming what was wrong."""
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ProtocolError("bad_json", "the frame is not valid JSON") from None
    if not isinstance(raw, dict):
        raise ProtocolError("bad_frame", "a frame is a JSON object")
    ref = raw.get("ref") if isinstance(raw.get("ref"), str) and len(raw["ref"]) <= 64 else None
    if raw.get("type") not in FRAME_TYPES:
        raise ProtocolError("unknown_type", f"unknown frame type; expected one of {', '.join(FRAME_TYPES)}",
                            ref=ref, field="type")
    try:
        return _client_frame.validate_python(raw)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"][1:]) or None
        raise ProtocolError("bad_frame", first["msg"], ref=ref, field=field) from None


def error_frame(error: ConveneError, *, ref: str | None = None, room: int | None = None) -> dict:
    frame = {"type": "error", **error.payload()}
    if ref is not None:
        frame["ref"] = ref
    if room is not None:
        frame["room"] = room
    return frame

