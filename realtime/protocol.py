"""The websocket wire contract's common parts: the version, close codes, field types, the frame base and errors.

Each feature's client frames are declared in realtime/frames/<feature>.py and parsed by
realtime/frames/table.py. docs/protocol.md is the prose of these modules; the tests run
that page's examples against a live server, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

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

class Frame(BaseModel):
    """A client frame. Each feature declares its frames in realtime/frames/<feature>.py."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    ref: Ref | None = None

class ProtocolError(ConveneError):
    """A frame that could not be understood. The connection stays usable."""

    code = "bad_frame"

    def __init__(self, code: str, message: str, *, ref: str | None = None, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.code = code
        self.ref = ref

def error_frame(error: ConveneError, *, ref: str | None = None, room: int | None = None) -> dict:
    frame = {"type": "error", **error.payload()}
    if ref is not None:
        frame["ref"] = ref
    if room is not None:
        frame["room"] = room
    return frame

