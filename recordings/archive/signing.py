"""Signed, expiring media URLs for recordings: one signature covers every file of one recording (so the
HLS playlists can pass it on to their segments). The signing itself is recordings/storage/signing.py."""

from __future__ import annotations

from recordings.storage.signing import UrlSigner


class MediaSigner:
    def __init__(self, secret_key: str, ttl_s: float) -> None:
        self._urls = UrlSigner(secret_key, b"convene.recording-media", ttl_s)
        self.ttl_s = ttl_s

    def expiry(self, now: float | None = None) -> int:
        return self._urls.expiry(now)

    def signature(self, recording_id: int, exp: int) -> str:
        return self._urls.signature(str(recording_id), exp)

    def query(self, recording_id: int, now: float | None = None) -> str:
        return self._urls.query(str(recording_id), now)

    def valid(self, recording_id: int, exp: str | None, sig: str | None, now: float | None = None) -> bool:
        return self._urls.valid(str(recording_id), exp, sig, now)
