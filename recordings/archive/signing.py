"""Signed, expiring media URLs: `?exp=<unix seconds>&sig=<HMAC-SHA256>` over the recording id and exp.

One signature covers every file of one recording (so the HLS playlists can pass it on to their
segments), and exp is rounded up to a step so that URLs issued within that step are identical and
a cache in front can key on them.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time


class MediaSigner:
    def __init__(self, secret_key: str, ttl_s: float) -> None:
        # A key of its own, so a media signature can never stand in for a session cookie's.
        self._key = hmac.new(secret_key.encode(), b"convene.recording-media", hashlib.sha256).digest()
        self.ttl_s = ttl_s
        self._step = max(1, int(min(3600.0, ttl_s)))

    def expiry(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        return math.ceil((now + self.ttl_s) / self._step) * self._step

    def signature(self, recording_id: int, exp: int) -> str:
        return hmac.new(self._key, f"{recording_id}:{exp}".encode(), hashlib.sha256).hexdigest()[:32]

    def query(self, recording_id: int, now: float | None = None) -> str:
        exp = self.expiry(now)
        return f"exp={exp}&sig={self.signature(recording_id, exp)}"

    def valid(self, recording_id: int, exp: str | None, sig: str | None, now: float | None = None) -> bool:
        if not exp or not sig or not exp.isdigit() or len(exp) > 12:
            return False
        if int(exp) < (time.time() if now is None else now):
            return False
        return hmac.compare_digest(self.signature(recording_id, int(exp)), sig)
