"""Populating a Convene server: members and rooms over the HTTP API, history rows straight into Postgres."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from dataclasses import dataclass

import httpx

PASSWORD = "bench-password"


@dataclass(frozen=True)
class SeededMember:
    id: int
    token: str


@dataclass(frozen=True)
class SeededRoom:
    id: int
    members: tuple[SeededMember, ...]     # the creator first


async def _member(http: httpx.AsyncClient, username: str) -> SeededMember:
    response = await http.post("/api/auth/register", json={
        "username": username, "password": PASSWORD, "display_name": username.title()})
    if response.status_code != 201:
        raise RuntimeError(f"register {username}: {response.status_code} {response.text[:200]}")
    response = await http.post("/api/auth/token", json={"username": username, "password": PASSWORD})
    if response.status_code != 201:
        raise RuntimeError(f"token for {username}: {response.status_code} {response.text[:200]}")
    data = response.json()
    return SeededMember(id=data["member"]["id"], token=data["token"])


def _auth(member: SeededMember) -> dict[str, str]:
    return {"Authorization": f"Bearer {member.token}"}


async def seed_rooms(base_url: str, rooms: int, members_per_room: int, concurrency: int = 12,
                     timeout_s: float = 30.0) -> list[SeededRoom]:
    """Registers rooms × members_per_room members; the first of each group creates a public room
    and the others join it. Requests run concurrently, at most `concurrency` at a time."""
    gate = asyncio.Semaphore(concurrency)
    run = uuid.uuid4().hex[:6]
    counter = itertools.count()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout_s, limits=limits, trust_env=False) as http:

        async def member() -> SeededMember:
            async with gate:
                return await _member(http, f"b{run}{next(counter)}")

        async def room(n: int) -> SeededRoom:
            group = await asyncio.gather(*(member() for _ in range(members_per_room)))
            async with gate:
                response = await http.post("/api/rooms", headers=_auth(group[0]),
                                           json={"name": f"bench {n}", "visibility": "public"})
            if response.status_code != 201:
                raise RuntimeError(f"create room: {response.status_code} {response.text[:200]}")
            room_id = response.json()["id"]

            async def join(m: SeededMember) -> None:
                async with gate:
                    answer = await http.post(f"/api/rooms/{room_id}/join", headers=_auth(m))
                if answer.status_code != 200:
                    raise RuntimeError(f"join room {room_id}: {answer.status_code} {answer.text[:200]}")

            await asyncio.gather(*(join(m) for m in group[1:]))
            return SeededRoom(id=room_id, members=tuple(group))

        return list(await asyncio.gather(*(room(n) for n in range(rooms))))


async def insert_history(database_url: str, room_id: int, sender_id: int, count: int, body_chars: int = 100) -> float:
    """Appends `count` messages to a room directly in Postgres (generate_series, one statement) and moves
    rooms.last_seq to the new head, as the server would have. Answers the seconds it took."""
    import asyncpg

    started = time.monotonic()
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        async with conn.transaction():
            head = await conn.fetchval("SELECT last_seq FROM rooms WHERE id = $1 FOR UPDATE", room_id)
            await conn.execute(
                """
                INSERT INTO messages (room_id, seq, kind, sender_id, client_id, body, created_at)
                SELECT $1, $2::bigint + g, 'message', $3, 'hist-' || g,
                       rpad('history message ' || g || ' ', $5, 'x'),
                       now() - make_interval(secs => ($4 - g))
                FROM generate_series(1, $4::bigint) AS g
                """, room_id, head, sender_id, count, body_chars, timeout=600)
            await conn.execute("UPDATE rooms SET last_seq = $2 WHERE id = $1", room_id, head + count)
        await conn.execute("ANALYZE messages", timeout=120)
    finally:
        await conn.close()
    return time.monotonic() - started
