"""Plain values of conversations: a pinned message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rooms.models import Event


@dataclass(frozen=True)
class Pin:
    message: Event
    pinned_by: int | None
    pinned_by_name: str
    pinned_at: datetime

    def public(self) -> dict:
        return {**self.message.frame(), "pinned_by": {"id": self.pinned_by, "display_name": self.pinned_by_name},
                "pinned_at": self.pinned_at.isoformat()}
