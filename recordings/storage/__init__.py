"""Where recordings' files live: one small interface (base.py), an adapter per backend."""

from __future__ import annotations

from pathlib import Path

from recordings.storage.base import BadKey, MediaStorage, ObjectInfo, check_key
from recordings.storage.local import LocalStorage


def open_storage(data_dir: Path) -> MediaStorage:
    """The configured storage; today the local directory `<data_dir>/media` (never under static/)."""
    return LocalStorage(data_dir / "media")


__all__ = ["BadKey", "MediaStorage", "ObjectInfo", "LocalStorage", "check_key", "open_storage"]
