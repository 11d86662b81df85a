"""Token revocations on every process at once: published on the broker's `convene:tokens` channel, applied to
each process's token cache (rooms/token_cache.py) as they arrive.

Pub/sub may lose messages; the broker says so with RESYNC (after a reconnect, or a full inbox), and
then the cache is dropped whole: a revocation that was missed cannot leave a token honoured for the
rest of its TTL. A publish that fails (the broker is down) is logged: the other processes lost their
broker too and drop their caches when it comes back.
"""

from __future__ import annotations

import logging

from realtime.broker.base import Broker, BrokerUnavailable
from realtime.hub import Hub
from rooms.accounts import MEMBER, TOKEN, AccountService, Revocation
from rooms.token_cache import TokenCache

log = logging.getLogger(__name__)

TOKENS_CHANNEL = "convene:tokens"


def encode(revocation: Revocation) -> str:
    return f"{revocation.kind}:{revocation.value}"


def decode(data: str) -> Revocation:
    kind, _, value = data.partition(":")
    if kind not in (TOKEN, MEMBER) or not value:
        raise ValueError(f"not a token revocation: {data[:40]!r}")
    return Revocation(kind, value)


class TokenRevocations:
    def __init__(self, hub: Hub, broker: Broker, accounts: AccountService) -> None:
        self.hub = hub
        self.broker = broker
        self.cache: TokenCache = accounts.tokens
        accounts.on_revoked.append(self.publish)

    async def start(self) -> None:
        self.hub.channel_readers[TOKENS_CHANNEL] = self.on_message
        self.hub.on_resync.append(self.cache.clear)
        await self.broker.subscribe(TOKENS_CHANNEL)

    async def publish(self, revocation: Revocation) -> None:
        try:
            await self.broker.publish(TOKENS_CHANNEL, encode(revocation))
        except BrokerUnavailable as error:
            log.warning("token revocation (%s) not announced: %s", revocation.kind, error)

    def on_message(self, data: str) -> None:
        try:
            revocation = decode(data)
        except ValueError:
            log.warning("undecodable token revocation on the broker")
            return
        if revocation.kind == TOKEN:
            self.cache.forget_token(revocation.value)
        else:
            self.cache.forget_member(int(revocation.value))
