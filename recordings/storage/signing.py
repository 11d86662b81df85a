"""Signed, expiring URLs for stored files: `?exp=<unix seconds>&sig=<HMAC-SHA256>` over a subject and exp.

Each use (recordings' media, chat attachments) derives a key of its own from SECRET_KEY with a purpose
string, so a signature made for one can never stand in for another's, nor for a session cookie's.
exp is rounded up to a step so that URLs issued within that step are identical and a cache in front
(the browser's included) can key on them.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time


class UrlSigner:
    def __init__(self, secret_key: str, purpose: bytes, ttl_s: float) -> None:
        self._key = hmac.new(secret_key.encode(), purpose, hashlib.sha256).digest()
        self.ttl_s = ttl_s
        self._step = max(1, int(min(3600.0, ttl_s)))

    def expiry(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        return math.ceil((now + self.ttl_s) / self._step) * self._step

    def signature(self, subject: str, exp: int) -> str:
        return hmac.new(self._key, f"{subject}:{exp}".encode(), hashlib.sha256).hexdigest()[:32]

    def query(self, subject: str, now: float | None = None) -> str:
        exp = self.expiry(now)
        return f"exp={exp}&sig={self.signature(subject, exp)}"

    def valid(self, subject: str, exp: str | None, sig: str | None, now: float | None = None) -> bool:
        """A missing, malformed, expired or forged signature is invalid; the comparison takes constant time."""
        if not exp or not sig or not exp.isdigit() or len(exp) > 12:
            return False
        if int(exp) < (time.time() if now is None else now):
            return False
        return hmac.compare_digest(self.signature(subject, int(exp)), sig)
