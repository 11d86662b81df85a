"""Files on disk that the service reports as stored: written so that "stored" survives a power cut.

A file is written under a temporary name in its own directory, flushed and synced, renamed over
its final name, and the directory is synced (the rename lives in the directory's entries). Only
then does the caller report success or mark a job complete. A crash at any point leaves either
the old file or the new one whole, never half of one; the temporary name starts with `.part-` so
listings skip it. New directories are synced into their parents the same way.

Every path that stores a file goes through here: the storage adapter (uploads, archive renditions,
captions, attachments), live streams handed to the archive, and the embedded secret key.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

PART_PREFIX = ".part-"
CHUNK = 1024 * 1024


def sync_directory(directory: Path) -> None:
    """Makes the directory's entries (a rename, a new file or subdirectory) durable."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def make_directories(directory: Path) -> None:
    """`mkdir -p`, syncing each parent that gained an entry, so the path survives with its files."""
    missing: list[Path] = []
    at = directory
    while not at.exists():
        missing.append(at)
        at = at.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue   # made meanwhile by another writer, who syncs it
        sync_directory(path.parent)


def write_file(path: Path, source: BinaryIO | bytes) -> None:
    """Stores `source` (a file-like object, read to its end, or bytes) at `path`, durably and whole."""
    make_directories(path.parent)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=PART_PREFIX)
    try:
        with os.fdopen(descriptor, "wb") as out:
            if isinstance(source, bytes):
                out.write(source)
            else:
                shutil.copyfileobj(source, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    sync_directory(path.parent)


def sync_tree(root: Path) -> None:
    """Syncs every file and directory under `root` (files another process wrote, such as a live
    stream's segments, before they are handed on as stored)."""
    directories = [root]
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            continue
        if path.is_dir():
            directories.append(path)
        elif path.is_file():
            descriptor = os.open(path, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
    for directory in reversed(directories):
        sync_directory(directory)
    sync_directory(root.parent)
