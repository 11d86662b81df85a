"""A member's export: everything keyed to them (rooms/members_data/registry.py), as one JSON document
written while it is read from the store, or a zip of that document and their files when they have any.

Nothing is held whole: rows are read a page at a time and each is encoded as it goes out, files are
copied in chunks; a member with a million messages costs a page of memory, not a million rows.
Only their own data is in it: their messages but not the messages they answered (a reply keeps the
seq it answers, not the other member's words), their reactions but not who else reacted. docs/privacy.md.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import replace
from collections.abc import AsyncIterator
from datetime import datetime, timezone

import orjson
from stream_zip import ZIP_64, async_stream_zip

from recordings.storage import MediaStorage
from rooms.members_data.registry import HOLDINGS
from rooms.members_data.store.export import ExportStore

FORMAT = "convene.export"
VERSION = 1
FILE_CHUNK = 256 * 1024
DOCUMENT_NAME = "convene-export.json"
_MODE = 0o600


def _encode(value: object) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def file_path(attachment: dict) -> str:
    """Where an attachment's file sits in the zip (named in the document's `attachments` section)."""
    return f"files/{attachment['id']}-{attachment['name']}"


class MemberExport:
    def __init__(self, store: ExportStore, storage: MediaStorage) -> None:
        self.store = store
        self.storage = storage

    async def has_files(self, member_id: int) -> bool:
        async for _ in self.store.rows(_attachments, member_id):
            return True
        return False

    async def document(self, member_id: int, with_files: bool = False) -> AsyncIterator[bytes]:
        """The JSON document, in pieces; each section is a list of rows as the tables hold them."""
        profile = await self.store.profile(member_id)
        yield b'{"format":' + _encode(FORMAT) + b',"version":' + _encode(VERSION)
        yield b',"exported_at":' + _encode(datetime.now(timezone.utc)) + b',"member":' + _encode(profile)
        yield b',"rooms":' + _encode(await self.store.rooms_of(member_id))
        sections: dict[str, list] = {}
        for holding in HOLDINGS:
            if holding.section is not None:
                sections.setdefault(holding.section, []).append(holding)
        for section, holdings in sections.items():
            yield b',' + _encode(section) + b':['
            first = True
            for holding in holdings:
                async for row in self.store.rows(holding, member_id):
                    if holding is _attachments and with_files:
                        row["file"] = file_path(row)
                    yield (b'' if first else b',') + _encode(row)
                    first = False
            yield b']'
        yield b'}'

    async def zipped(self, member_id: int) -> AsyncIterator[bytes]:
        """A zip of the document and every file the member attached, streamed as it is made."""
        async def members():
            now = datetime.now(timezone.utc)
            yield DOCUMENT_NAME, now, _MODE, ZIP_64, self.document(member_id, with_files=True)
            async for attachment in self._attachment_files(member_id):
                yield file_path(attachment), attachment["created_at"], _MODE, ZIP_64, \
                    self._file_chunks(attachment["file_key"])

        # Level 1: the files are photos and voice notes, compressed already; the JSON shrinks well anyway.
        async for chunk in async_stream_zip(members(), get_compressobj=lambda: zlib.compressobj(1, zlib.DEFLATED, -15)):
            yield chunk

    async def _attachment_files(self, member_id: int) -> AsyncIterator[dict]:
        async for row in self.store.rows(_attachment_keys, member_id):
            yield row

    async def _file_chunks(self, key: str) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self.storage.open, key)
        try:
            while chunk := await asyncio.to_thread(handle.read, FILE_CHUNK):
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)


_attachments = next(h for h in HOLDINGS if h.table == "attachments")
# The same rows with their storage keys, for copying the files (the keys never reach the document).
_attachment_keys = replace(_attachments, hidden=("search_text",))
