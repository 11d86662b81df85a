"""Which actions are limited, by whom, and how refusals read: the abuse limits of issue 4."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from starlette.requests import HTTPConnection

from realtime.limits.base import Rate, RateLimiter
from rooms import metrics
from rooms.accounts import AccountService
from rooms.errors import Forbidden, RateLimited, Unauthenticated
from rooms.management import RoomService
from rooms.models import Member, Room, Visibility


@dataclass(frozen=True)
class LimitRates:
    """Each rate is `count/seconds:burst` in the environment (see README)."""

    member_messages: Rate = Rate.per(10, 1, 30)
    # Mobile carriers (CGNAT), hospitals and conference venues put a whole audience behind one
    # address: a 1,000-seat webinar joins, reconnects after a Wi-Fi drop and answers a host's
    # question at once. Per-address limits allow that; per-member limits still stop one account.
    ip_messages: Rate = Rate.per(200, 1, 1000)
    member_connections: Rate = Rate.per(2, 1, 20)
    ip_connections: Rate = Rate.per(50, 1, 1000)
    username_login_failures: Rate = Rate.per(5, 900, 5)
    ip_login_failures: Rate = Rate.per(100, 900, 100)
    ip_registrations: Rate = Rate.per(100, 3600, 100)
    member_room_creations: Rate = Rate.per(20, 3600, 10)
    # An export reads everything a member ever wrote: a few an hour is plenty for a person.
    member_exports: Rate = Rate.per(3, 3600, 3)


T = TypeVar("T")


def parse_rate(text: str) -> Rate:
    """"10/1:30" is 10 per second with bursts of 30; "5/900:5" is 5 per 15 minutes, burst 5."""
    count, _, rest = text.partition("/")
    seconds, _, burst = rest.partition(":")
    return Rate.per(float(count), float(seconds), int(burst))


class AbuseLimits:
    def __init__(self, limiter: RateLimiter, rates: LimitRates) -> None:
        self.limiter = limiter
        self.rates = rates

    async def _hit(self, key: str, limit: str, message: str) -> None:
        """`limit` is the LimitRates field (the rate, and the limit's name on /metrics)."""
        await self._hit_each((key, limit, message))

    async def _hit_each(self, *buckets: tuple[str, str, str]) -> None:
        """(key, limit, message) of each bucket, taken in turn up to the first refusal, which is raised:
        one decision (one round trip on one Redis)."""
        refused = await self.limiter.hit_each([(key, getattr(self.rates, limit)) for key, limit, _ in buckets])
        if refused is not None:
            index, wait = refused
            _, limit, message = buckets[index]
            metrics.rate_limit_by_name[limit].inc()
            raise RateLimited(message, retry_after=wait)

    async def message(self, member_id: int, ip: str) -> None:
        await self._hit_each((f"msg:m:{member_id}", "member_messages", "you are sending too fast"),
                             (f"msg:ip:{ip}", "ip_messages", "too many messages from your network"))

    async def connection(self, member_id: int, ip: str) -> None:
        await self._hit_each((f"conn:ip:{ip}", "ip_connections", "too many connections from your network"),
                             (f"conn:m:{member_id}", "member_connections", "too many connections"))

    async def room_creation(self, member_id: int) -> None:
        await self._hit(f"room:m:{member_id}", "member_room_creations", "too many new rooms; try later")

    async def export(self, member_id: int) -> None:
        await self._hit(f"export:m:{member_id}", "member_exports", "you downloaded your data recently; try later")

    async def registration(self, ip: str) -> None:
        await self._hit(f"reg:ip:{ip}", "ip_registrations", "too many new accounts from your network")

    async def login_allowed(self, username: str, ip: str) -> None:
        """Refuses while recent failures for this name or address are over the limit (back-off)."""
        for key, limit in ((f"login:u:{username.lower()}", "username_login_failures"),
                           (f"login:ip:{ip}", "ip_login_failures")):
            wait = await self.limiter.peek(key, getattr(self.rates, limit))
            if wait is not None:
                metrics.rate_limit_by_name[limit].inc()
                raise RateLimited("too many failed log-ins; wait before trying again", retry_after=wait)

    async def login_failed(self, username: str, ip: str) -> None:
        await self.limiter.hit(f"login:u:{username.lower()}", self.rates.username_login_failures)
        await self.limiter.hit(f"login:ip:{ip}", self.rates.ip_login_failures)


def client_ip(conn: HTTPConnection) -> str:
    # With uvicorn --proxy-headers this is the address the trusted proxy saw.
    return conn.client.host if conn.client else "unknown"


async def login_with_backoff(limits: AbuseLimits, accounts: AccountService, username: str, password: str,
                             ip: str) -> Member:
    """Authenticates, refusing while recent failures for the name or address are over the limit."""
    await limits.login_allowed(username, ip)
    try:
        return await accounts.authenticate(username, password)
    except Unauthenticated:
        await limits.login_failed(username, ip)
        raise


async def confirmed_with_backoff(limits: AbuseLimits, member: Member, ip: str, act: Callable[[], Awaitable[T]]) -> T:
    """Something a password confirms (deleting an account): wrong passwords count like failed log-ins."""
    await limits.login_allowed(member.username, ip)
    try:
        return await act()
    except Forbidden as error:
        if error.field == "password":
            await limits.login_failed(member.username, ip)
        raise


async def register_limited(limits: AbuseLimits, accounts: AccountService, username: str, password: str,
                           display_name: str, ip: str) -> Member:
    await limits.registration(ip)
    return await accounts.register(username, password, display_name)


async def create_room_limited(limits: AbuseLimits, rooms: RoomService, member: Member, name: str,
                              visibility: Visibility, topic: str) -> Room:
    await limits.room_creation(member.id)
    return await rooms.create(member, name, visibility, topic)
