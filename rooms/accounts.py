"""Registration, passwords (argon2id), and the tokens behind sessions and bearer auth."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from rooms.errors import BadRequest, Forbidden, Unauthenticated
from rooms.models import Member
from rooms.store import Stores
from rooms.text_rules import check_name, normalise_username
from rooms.token_cache import TokenCache

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,31}$")
# "@room" addresses everyone in a room (rooms/conversations/formatting.py), so nobody is called that.
RESERVED_USERNAMES = frozenset({"room"})
MIN_PASSWORD = 8
MAX_PASSWORD = 256


MAX_DISPLAY_NAME = 80


def check_display_name(display_name: str) -> str:
    """A display name as stored: trimmed, 1 to 80 characters, nothing invisible or direction-changing."""
    display_name = display_name.strip()
    if not display_name:
        raise BadRequest("a display name is needed", field="display_name")
    if len(display_name) > MAX_DISPLAY_NAME:
        raise BadRequest(f"at most {MAX_DISPLAY_NAME} characters", field="display_name")
    return check_name(display_name, "display_name")


TOKEN, MEMBER = "token", "member"


@dataclass(frozen=True)
class Revocation:
    """What to forget: one token (`value` its hash) or every token of a member (`value` the member id)."""
    kind: str
    value: str


RevocationListener = Callable[[Revocation], Awaitable[None]]


class TokenKind:
    SESSION = "session"
    API = "api"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccountService:
    def __init__(self, stores: Stores, session_max_age_s: int,
                 hasher: PasswordHasher | None = None, token_cache: TokenCache | None = None) -> None:
        self.stores = stores
        self.session_max_age = timedelta(seconds=session_max_age_s)
        self.hasher = hasher or PasswordHasher()   # argon2id with the library's current parameters
        # Verified against for unknown usernames, so timing does not reveal which names exist.
        self._dummy_hash = self.hasher.hash(secrets.token_hex(8))
        # Recently verified tokens: a cached handshake asks the store nothing, and a reconnect storm of
        # thousands of sockets costs one query per token. Revocations drop entries here and, through
        # `on_revoked` (the web layer's broadcast, realtime/token_revocations.py), on every process.
        self.tokens = token_cache if token_cache is not None else TokenCache()
        self.on_revoked: list[RevocationListener] = []

    async def register(self, username: str, password: str, display_name: str) -> Member:
        # The typed refusal first: "alice" with a zero-width space is a spoof, not a typo.
        username = normalise_username(check_name(username, "username"))
        if not USERNAME.match(username):
            raise BadRequest("2-32 characters: lowercase letters, digits, '.', '_' or '-'", field="username")
        if username in RESERVED_USERNAMES:
            raise BadRequest("this username is reserved; choose another", field="username")
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise BadRequest(f"use {MIN_PASSWORD} to {MAX_PASSWORD} characters", field="password")
        display_name = check_display_name(display_name.strip() or username)
        password_hash = await asyncio.to_thread(self.hasher.hash, password)
        return await self.stores.accounts.create_member(username, password_hash, display_name)

    async def authenticate(self, username: str, password: str) -> Member:
        found = await self.stores.accounts.credentials(normalise_username(username))
        if found is None:
            await self._verify(self._dummy_hash, password)
            raise Unauthenticated("wrong username or password")
        member, password_hash = found
        if not await self._verify(password_hash, password):
            raise Unauthenticated("wrong username or password")
        if member.suspended:   # said only to whoever knows the password
            raise Forbidden("this account is suspended")
        if self.hasher.check_needs_rehash(password_hash):
            new_hash = await asyncio.to_thread(self.hasher.hash, password)
            await self.stores.accounts.set_password_hash(member.id, new_hash)
        return member

    async def confirm_password(self, member: Member, password: str) -> None:
        """A signed-in member proves it is them before something that cannot be undone (deleting the account)."""
        found = await self.stores.accounts.credentials(member.username)
        if found is None or not await self._verify(found[1], password):
            raise Forbidden("the password is not right", field="password")

    async def _verify(self, password_hash: str, password: str) -> bool:
        # argon2 takes ~0.2 s of CPU by design; in a thread it does not stall every socket on the process.
        return await asyncio.to_thread(self._verify_blocking, password_hash, password)

    def _verify_blocking(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def issue_token(self, member: Member, kind: str) -> str:
        token = secrets.token_urlsafe(32)
        expires = datetime.now(timezone.utc) + self.session_max_age if kind == TokenKind.SESSION else None
        await self.stores.accounts.add_token(hash_token(token), member.id, kind, expires)
        return token

    async def member_for_token(self, token: str) -> Member | None:
        if not token or len(token) > 128:
            return None
        token_hash = hash_token(token)
        cached = self.tokens.get(token_hash)
        if cached is not None:
            return cached
        epoch = self.tokens.epoch
        now = datetime.now(timezone.utc)
        found = await self.stores.accounts.member_for_token(token_hash, now)
        if found is None:
            return None
        member, expires_at = found
        if expires_at is not None and expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=timezone.utc)
        self.tokens.put(token_hash, member, epoch,
                        None if expires_at is None else (expires_at - now).total_seconds())
        return member

    def forget_member(self, member_id: int) -> None:
        """Drops the member's recently verified tokens here: the next use asks the store (a suspension)."""
        self.tokens.forget_member(member_id)

    def cached_member_ids(self) -> set[int]:
        return self.tokens.member_ids()

    async def revoke(self, token: str) -> None:
        """Logs a token out, on every process at once: deleted from the store, then forgotten everywhere."""
        token_hash = hash_token(token)
        self.tokens.forget_token(token_hash)
        await self.stores.accounts.delete_token(token_hash)
        await self._announce(Revocation(TOKEN, token_hash))

    async def revoke_member(self, member_id: int) -> None:
        """Every cached token of the member is forgotten on every process (a suspension, a deleted
        account, a password or profile change): the next handshake asks the store."""
        self.tokens.forget_member(member_id)
        await self._announce(Revocation(MEMBER, str(member_id)))

    async def _announce(self, revocation: "Revocation") -> None:
        for listener in self.on_revoked:
            await listener(revocation)
