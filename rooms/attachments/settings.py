"""Limits of attachments, read from the environment once at start-up (docs/attachments.md, README table)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from rooms.envvars import env_float, env_int


@dataclass(frozen=True)
class AttachmentSettings:
    max_bytes: int = 25 * 1024 * 1024          # one file at most (413 past it)
    quota_bytes: int = 500 * 1024 * 1024       # everything one member has stored (files and previews)
    uploads_per_member: int = 5                # resumable uploads in progress at once, per member
    upload_ttl_s: float = 24 * 3600            # an unfinished upload is dropped after this (tus Upload-Expires)
    upload_idle_s: float = 30.0                # a PATCH that sends nothing for this long ends; what came is kept
    unsent_ttl_s: float = 3 * 24 * 3600        # an uploaded file never sent in a message is dropped after this
    url_ttl_s: float = 3600.0                  # signed file URLs stay valid at least this long
    per_message: int = 10                      # attachments in one message
    image_max_pixels: int = 50_000_000         # larger images are refused before they are decoded
    image_max_side: int = 2560                 # stored images are scaled down to this longest side
    preview_side: int = 640                    # previews' longest side (a phone screen)
    process_timeout_s: float = 60.0            # re-encoding one image or voice note, in a child process
    gc_interval_s: float = 300.0               # how often expired uploads and unsent files are swept

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "AttachmentSettings":
        env = os.environ if env is None else env
        return cls(
            max_bytes=env_int(env, "ATTACHMENT_MAX_BYTES", cls.max_bytes),
            quota_bytes=env_int(env, "ATTACHMENT_QUOTA_BYTES", cls.quota_bytes),
            uploads_per_member=env_int(env, "ATTACHMENT_UPLOADS_PER_MEMBER", cls.uploads_per_member),
            upload_ttl_s=env_float(env, "ATTACHMENT_UPLOAD_TTL_S", cls.upload_ttl_s),
            upload_idle_s=env_float(env, "ATTACHMENT_UPLOAD_IDLE_S", cls.upload_idle_s),
            unsent_ttl_s=env_float(env, "ATTACHMENT_UNSENT_TTL_S", cls.unsent_ttl_s),
            url_ttl_s=env_float(env, "ATTACHMENT_URL_TTL_S", cls.url_ttl_s),
            per_message=env_int(env, "ATTACHMENTS_PER_MESSAGE", cls.per_message),
            image_max_pixels=env_int(env, "ATTACHMENT_IMAGE_MAX_PIXELS", cls.image_max_pixels),
            image_max_side=env_int(env, "ATTACHMENT_IMAGE_MAX_SIDE", cls.image_max_side),
            preview_side=env_int(env, "ATTACHMENT_PREVIEW_SIDE", cls.preview_side),
            process_timeout_s=env_float(env, "ATTACHMENT_PROCESS_TIMEOUT_S", cls.process_timeout_s),
            gc_interval_s=env_float(env, "ATTACHMENT_GC_INTERVAL_S", cls.gc_interval_s),
        )
