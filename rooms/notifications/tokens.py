"""Signed tokens that work without a session: one-click unsubscribe, address verification, reply by e-mail.

All are itsdangerous signatures over the server's SECRET_KEY with a salt per purpose, so a token made
for one purpose is worthless for another. Reply tokens are short enough for an address's local part
(RFC 5321: 64 characters): "<member>.<room>.<seq>" plus a timestamp and a truncated signature.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeSerializer, URLSafeTimedSerializer

REPLY_PREFIX = "reply+"


@dataclass(frozen=True)
class ReplyTarget:
    member_id: int
    room_id: int
    seq: int


def address_digest(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]


class Tokens:
    def __init__(self, secret: str) -> None:
        self._unsubscribe = URLSafeSerializer(secret, salt="convene.unsubscribe")
        self._verify = URLSafeTimedSerializer(secret, salt="convene.verify-address")
        self._reply = TimestampSigner(secret, salt="convene.reply", sep=".", digest_method=hashlib.sha1)

    # Unsubscribe: never expires (an old e-mail's link must still work), names the member and the kind.

    def unsubscribe(self, member_id: int, kind: str) -> str:
        return self._unsubscribe.dumps([member_id, kind])

    def read_unsubscribe(self, token: str) -> tuple[int, str] | None:
        try:
            member_id, kind = self._unsubscribe.loads(token)
        except (BadSignature, ValueError, TypeError):
            return None
        return (member_id, kind) if isinstance(member_id, int) and isinstance(kind, str) else None

    # Address verification: the member and a digest of the address (links end up in logs; the address
    # must not), valid for a week.

    def verify(self, member_id: int, email: str) -> str:
        return self._verify.dumps([member_id, address_digest(email)])

    def read_verify(self, token: str, max_age_s: float) -> tuple[int, str] | None:
        """(member id, the address's digest), or None for a forged or expired link."""
        try:
            member_id, digest = self._verify.loads(token, max_age=max_age_s)
        except (BadSignature, ValueError, TypeError):
            return None
        return (member_id, digest) if isinstance(member_id, int) and isinstance(digest, str) else None

    # Reply by e-mail.

    def reply_address(self, target: ReplyTarget, domain: str) -> str:
        signed = self._reply.sign(f"{target.member_id}.{target.room_id}.{target.seq}").decode()
        return f"{REPLY_PREFIX}{signed}@{domain}"

    def read_reply(self, address: str, domain: str, max_age_s: float) -> ReplyTarget | None:
        """The target of a reply address, or None when it is not one of ours, forged or expired."""
        local, _, host = address.strip().strip("<>").rpartition("@")
        if host.lower() != domain.lower() or not local.lower().startswith(REPLY_PREFIX):
            return None
        try:
            value = self._reply.unsign(local[len(REPLY_PREFIX):], max_age=max_age_s).decode()
        except (SignatureExpired, BadSignature):
            return None
        parts = value.split(".")
        if len(parts) != 3 or not all(part.isdigit() for part in parts):
            return None
        return ReplyTarget(*(int(part) for part in parts))
