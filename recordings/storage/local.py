"""The local-directory adapter: one file per key under a root outside any web root."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO, Iterator

from recordings.storage import durable
from recordings.storage.base import ObjectInfo, check_key


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        durable.make_directories(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if self.root not in path.parents:   # a symlink planted inside the root must not lead out
            raise FileNotFoundError(key)
        return path

    def put_file(self, key: str, source: Path) -> ObjectInfo:
        with open(source, "rb") as data:
            return self.put_stream(key, data)

    def put_stream(self, key: str, chunks: BinaryIO) -> ObjectInfo:
        # Synced and renamed into place before it is reported stored: a reader never sees half an
        # object, and a power cut never takes back one we said we had.
        durable.write_file(self._path(key), chunks)
        info = self.stat(key)
        assert info is not None
        return info

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            st = self._path(key).stat()
        except FileNotFoundError:
            return None
        tag = hashlib.blake2b(f"{key}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}".encode(), digest_size=12)
        return ObjectInfo(key=key, size=st.st_size, etag=tag.hexdigest())

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        base = self._path(prefix)
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith(durable.PART_PREFIX):
                info = self.stat(str(path.relative_to(self.root)))
                if info is not None:
                    yield info

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.exists() else None
