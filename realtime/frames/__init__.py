"""Every socket frame type, by feature: a new feature's frames are added to this one list."""

from __future__ import annotations

from realtime.frames import breakouts, chat, conversations, emergency, media
from realtime.frames.table import FrameTable


def all_frames() -> FrameTable:
    return FrameTable(chat.FRAMES, conversations.FRAMES, emergency.FRAMES, media.FRAMES, breakouts.FRAMES)
