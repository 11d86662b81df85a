"""The baseline: the simplest broadcast server that does Convene's job, written directly on `websockets`.

It speaks just enough of docs/protocol.md for the load generator (hello, subscribe,
send → ack + message, ping) with the same JSON shapes, keeps a per-room counter
as `seq`, and stores nothing. Whatever Convene does beyond this (authentication,
durable storage, the broker, presence, bounded queues) is what the ratio measures.

Run as its own process: `python -m bench.baseline --port 8765`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
from collections import defaultdict
from datetime import datetime, timezone

import orjson
from websockets.asyncio.connection import broadcast
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from bench.procstat import raise_nofile


class BroadcastServer:
    def __init__(self) -> None:
        self.rooms: dict[int, set[ServerConnection]] = defaultdict(set)
        self.seqs: dict[int, int] = defaultdict(int)
        self._ids = itertools.count(1)

    async def handle(self, ws: ServerConnection) -> None:
        member = next(self._ids)
        sender = {"id": member, "display_name": f"Member {member}"}
        joined: set[int] = set()
        await ws.send(orjson.dumps({"type": "hello", "protocol": 1, "connection": str(member),
                                    "member": sender, "limits": {}}).decode())
        try:
            async for text in ws:
                frame = orjson.loads(text)
                kind, ref, room = frame.get("type"), frame.get("ref"), frame.get("room")
                if kind == "send":
                    self.seqs[room] += 1
                    ts = datetime.now(timezone.utc).isoformat()
                    broadcast(self.rooms[room], orjson.dumps(
                        {"type": "message", "room": room, "seq": self.seqs[room], "client_id": frame["client_id"],
                         "body": frame["body"], "sender": sender, "ts": ts}).decode())
                    reply = {"type": "ack", "room": room, "client_id": frame["client_id"],
                             "seq": self.seqs[room], "ts": ts, "duplicate": False}
                elif kind == "subscribe":
                    self.rooms[room].add(ws)
                    joined.add(room)
                    reply = {"type": "subscribed", "room": room, "last_seq": self.seqs[room]}
                elif kind == "unsubscribe":
                    self.rooms[room].discard(ws)
                    joined.discard(room)
                    reply = {"type": "unsubscribed", "room": room, "reason": "requested"}
                elif kind == "ping":
                    reply = {"type": "pong"}
                else:
                    reply = {"type": "error", "code": "unknown_type", "field": "type"}
                if ref is not None:
                    reply["ref"] = ref
                await ws.send(orjson.dumps(reply).decode())
        except ConnectionClosed:
            pass
        finally:
            for room in joined:
                self.rooms[room].discard(ws)


async def serve_forever(port: int) -> None:
    server = BroadcastServer()
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.cancel)
    # Limits as in the Procfile's uvicorn flags; compression as websockets' (and uvicorn's) default.
    async with serve(server.handle, "127.0.0.1", port, max_size=65536, ping_interval=20, ping_timeout=20,
                     backlog=2048):
        try:
            await stop
        except asyncio.CancelledError:
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    raise_nofile()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve_forever(args.port))
    else:
        uvloop.run(serve_forever(args.port))


if __name__ == "__main__":
    main()
