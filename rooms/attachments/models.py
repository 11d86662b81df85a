"""Plain values of attachments: a stored file, and a resumable upload in progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rooms.attachments.sniffing import Kind

FILE, PREVIEW = "file", "preview"   # the two things an attachment may serve


@dataclass(frozen=True)
class Attachment:
    id: int
    room_id: int
    owner_id: int | None
    name: str
    kind: Kind
    content_type: str
    size: int                    # of the file served (after re-encoding)
    stored_bytes: int            # file and preview: what counts against the owner's quota
    file_key: str
    preview_key: str | None
    meta: dict                   # width, height, preview {width, height, size, content_type}, duration_s
    message_seq: int | None      # None until sent in a message
    created_at: datetime

    def key(self, variant: str) -> str | None:
        return self.file_key if variant == FILE else self.preview_key

    def descriptor(self) -> dict:
        """What a message carries about it (docs/attachments.md): stable, so it can be stored with the
        message; `url` and `preview.url` answer a fresh signed URL to whoever may read the room."""
        data: dict = {"id": self.id, "name": self.name, "kind": self.kind.value,
                      "content_type": self.content_type, "size": self.size, "url": f"/api/attachments/{self.id}/file"}
        if "width" in self.meta:
            data["width"], data["height"] = self.meta["width"], self.meta["height"]
        preview = self.meta.get("preview")
        if preview and self.preview_key:
            data["preview"] = {"url": f"/api/attachments/{self.id}/preview", "width": preview["width"],
                               "height": preview["height"], "size": preview["size"],
                               "content_type": preview["content_type"]}
        if self.meta.get("duration_s") is not None:
            data["duration_s"] = self.meta["duration_s"]
        return data


@dataclass(frozen=True)
class Part:
    """Bytes of an upload stored under `key`, from `start`, `length` long."""

    start: int
    length: int
    key: str


@dataclass(frozen=True)
class Upload:
    token: str
    member_id: int
    room_id: int
    name: str
    length: int
    received: int
    parts: tuple[Part, ...]
    attachment_id: int | None    # set once the upload is complete and its file stored
    created_at: datetime
    expires_at: datetime

    @property
    def complete(self) -> bool:
        return self.received == self.length
