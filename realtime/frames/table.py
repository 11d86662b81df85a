"""The table of socket frame types the gateway dispatches through: each feature hands it its frames
(a pydantic model and a handler), the way Starlette is handed routes, so the gateway imports no feature."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping, get_args

import orjson
from pydantic import TypeAdapter, ValidationError

from realtime.protocol import Frame, ProtocolError
from rooms.errors import DisallowedCharacters
from rooms.text_rules import may_hold_nul, refuse_nul_anywhere

if TYPE_CHECKING:
    from realtime.session import Session

Handler = Callable[["Session", Any], Awaitable[None]]
FrameGroup = Mapping[type[Frame], Handler]


def frame_type(model: type[Frame]) -> str:
    """The `type` a model accepts: its `Literal["…"]` annotation."""
    (name,) = get_args(model.model_fields["type"].annotation)
    return name


class FrameTable:
    def __init__(self, *groups: FrameGroup) -> None:
        self._adapters: dict[str, TypeAdapter] = {}
        self._handlers: dict[str, Handler] = {}
        for group in groups:
            for model, handler in group.items():
                name = frame_type(model)
                if name in self._handlers:
                    raise ValueError(f"frame type {name!r} is registered twice")
                self._adapters[name] = TypeAdapter(model)
                self._handlers[name] = handler
        self.types: tuple[str, ...] = tuple(self._handlers)

    def handler(self, name: str) -> Handler:
        return self._handlers[name]

    def parse(self, text: str | bytes) -> Frame:
        """Validates one client frame; raises ProtocolError naming what was wrong."""
        try:
            raw = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ProtocolError("bad_json", "the frame is not valid JSON") from None
        if not isinstance(raw, dict):
            raise ProtocolError("bad_frame", "a frame is a JSON object")
        ref = raw.get("ref") if isinstance(raw.get("ref"), str) and len(raw["ref"]) <= 64 else None
        name = raw.get("type")
        adapter = self._adapters.get(name) if isinstance(name, str) else None
        if adapter is None:
            raise ProtocolError("unknown_type", f"unknown frame type; expected one of {', '.join(self.types)}",
                                ref=ref, field="type")
        if may_hold_nul(text):
            try:
                refuse_nul_anywhere(raw)
            except DisallowedCharacters as error:
                raise ProtocolError(error.code, error.message, ref=ref, field=error.field) from None
        try:
            return adapter.validate_python(raw)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or None
            raise ProtocolError("bad_frame", first["msg"], ref=ref, field=field) from None
