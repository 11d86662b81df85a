"""Storage of attachments: stored files and uploads in progress, over the chat core's database."""

from __future__ import annotations

from dataclasses import dataclass

from rooms.attachments.store.attachments import AttachmentStore
from rooms.attachments.store.uploads import UploadStore
from rooms.store.database import Database


@dataclass(frozen=True)
class AttachmentStores:
    attachments: AttachmentStore
    uploads: UploadStore

    @classmethod
    def over(cls, db: Database) -> "AttachmentStores":
        return cls(attachments=AttachmentStore(db), uploads=UploadStore(db))


__all__ = ["AttachmentStores", "AttachmentStore", "UploadStore"]
