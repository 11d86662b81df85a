"""What the moderation stores share: leaving a write transaction that turned out to change nothing."""

from __future__ import annotations


class Unchanged(Exception):
    """Raised inside a write transaction to roll it back, its sequence event included: the room's
    sequence only ever records what happened."""
