"""The load generator: protocol clients in worker processes of their own, driven phase by phase from the parent.

A worker holds a share of the clients on one asyncio loop (uvloop when it is
installed). Each socket is the `websockets` library's sans-I/O ClientProtocol
driven from asyncio callbacks (the library's asyncio client costs about half as
much again per delivery, enough to distort the latencies it measures). A worker
records every send (client_id, scheduled time, send time, ack time, seq) and
every delivery (room, seq, client_id, receiver, receive time).
The parent (LoadGenerator) tells all workers what to do next over a pipe:

    connect  open the next clients' sockets, wait for `hello`, subscribe to their rooms
    run      senders send at a fixed rate from a common start time; answers the highest
             acknowledged seq per room once every send is acknowledged (or timed out)
    drain    wait until every receiver has seen the room heads of all workers; answers
             the records of the phase
    requests each client sends its list of frames one at a time (history pages) and times the replies
    http     each client GETs its list of paths one at a time
    close    close every socket and exit

Times come from time.monotonic(), which is one clock for every process on the
machine, so a send recorded in one worker and its delivery in another compare.
Every wait is bounded, and a worker exits by itself after `lifetime_s`.
"""

from __future__ import annotations

import asyncio
import enum
import multiprocessing
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import orjson
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import enable_client_permessage_deflate
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

from bench.procstat import raise_nofile

MAX_COMMANDS = 10_000


@dataclass(frozen=True)
class ClientSpec:
    """One simulated socket: who it is, where it connects, what it follows and where it speaks."""

    index: int                         # unique in a run: the receiver id in the records
    url: str
    token: str | None = None
    rooms: tuple[int, ...] = ()        # subscribed after `hello`
    send_room: int | None = None       # senders only
    send_slot: float = 0.0             # 0..1: where in each send interval this sender fires


@dataclass(frozen=True)
class ClientOptions:
    connect_concurrency: int = 64
    connect_timeout_s: float = 60.0       # handshake, hello and subscriptions together
    compression: str | None = "deflate"   # what browsers offer; the server decides
    compression_context: bool = False     # ask Convene for a compressor per socket (`compression=context`)
    lifetime_s: float = 1800.0            # a worker exits by itself after this long


@dataclass(frozen=True)
class Phase:
    """A stretch of steady load: every sender sends `rate` messages per second for `duration_s`."""

    rate: float
    duration_s: float
    body_chars: int = 100
    ack_timeout_s: float = 15.0
    drain_timeout_s: float = 15.0
    # A reconnect storm: this many seconds into the phase every receiving socket (senders keep sending)
    # is dropped at once and reconnects, resuming each room from the last seq it saw.
    storm_at_s: float | None = None


class ClientState(str, enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    OPEN = "open"
    FAILED = "failed"          # never got as far as `hello` and its subscriptions
    CLOSED = "closed"          # was open, then the socket closed


@dataclass
class Send:
    room: int
    t_due: float
    t_sent: float
    t_ack: float | None = None
    seq: int | None = None


@dataclass
class ClientRecord:
    """What one client saw during a phase (or during connect)."""

    index: int
    state: ClientState
    rooms: tuple[int, ...]
    connect_s: float | None = None
    subscribe_s: float | None = None
    error: str | None = None
    close_code: int | None = None
    sends: dict[str, Send] = field(default_factory=dict)
    deliveries: list[tuple[int, int, str | None, float]] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    other_frames: Counter = field(default_factory=Counter)


def _retrieved(future: asyncio.Future) -> None:
    future.exception()


class _Wire(asyncio.Protocol):
    """One socket on the websockets library's sans-I/O ClientProtocol, driven straight from asyncio's
    callbacks: no task, queue or buffer per connection, so thousands of sockets in one process cost
    little and a delivery's receive time is taken the moment its bytes arrive."""

    def __init__(self, client: "Client", protocol: ClientProtocol, headers: dict[str, str]) -> None:
        self.client = client
        self.protocol = protocol
        self.headers = headers
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._fragments: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]   # uvloop's transports are not asyncio's classes
        request = self.protocol.connect()
        for name, value in self.headers.items():
            request.headers[name] = value
        self.protocol.send_request(request)
        self._flush()

    def data_received(self, data: bytes) -> None:
        received = time.monotonic()
        protocol = self.protocol
        protocol.receive_data(data)
        for event in protocol.events_received():
            if isinstance(event, Response):
                if not self.opened.done():
                    if protocol.handshake_exc is not None:
                        self.opened.set_exception(protocol.handshake_exc)
                    else:
                        self.opened.set_result(None)
            elif event.opcode is Opcode.TEXT or event.opcode is Opcode.CONT:
                if not event.fin:
                    self._fragments.append(event.data)
                    continue
                if self._fragments:
                    payload = b"".join([*self._fragments, event.data])
                    self._fragments = []
                else:
                    payload = event.data
                self.client.on_text(payload, received)
        self._flush()
        if protocol.close_expected() and self.transport is not None:
            # The close handshake is done on our side; the server closes TCP, or we do shortly.
            asyncio.get_running_loop().call_later(2, self.transport.abort)

    def eof_received(self) -> bool | None:
        self.protocol.receive_eof()
        self._flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        rcvd = self.protocol.close_rcvd
        self.client.on_closed(rcvd.code if rcvd is not None else 1006)
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"connection lost during the handshake: {exc}"))
        if not self.lost.done():
            self.lost.set_result(None)

    def send_text(self, text: str) -> None:
        self.protocol.send_text(text.encode())
        self._flush()

    def close(self) -> None:
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(1000)
            self._flush()

    def _flush(self) -> None:
        if self.transport is None:
            return
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.transport.write(chunk)
            elif self.transport.can_write_eof():
                self.transport.write_eof()


class Client:
    def __init__(self, spec: ClientSpec) -> None:
        self.spec = spec
        self.state = ClientState.IDLE
        self.wire: _Wire | None = None
        self.connect_s: float | None = None
        self.subscribe_s: float | None = None
        self.error: str | None = None
        self.close_code: int | None = None
        self.heads: dict[int, int] = {}
        self.waiting: dict[str, asyncio.Future] = {}
        self.hello: asyncio.Future | None = None
        self.unacked = 0
        self._refs = 0
        self.reset()

    def reset(self) -> None:
        self.sends: dict[str, Send] = {}
        self.deliveries: list[tuple[int, int, str | None, float]] = []
        self.errors: Counter = Counter()
        self.other_frames: Counter = Counter()    # frames that are neither events nor acks, by type

    def record(self) -> ClientRecord:
        return ClientRecord(index=self.spec.index, state=self.state, rooms=self.spec.rooms,
                            connect_s=self.connect_s, subscribe_s=self.subscribe_s, error=self.error,
                            close_code=self.close_code, sends=self.sends, deliveries=self.deliveries,
                            errors=self.errors, other_frames=self.other_frames)

    async def open(self, options: ClientOptions) -> None:
        self.state = ClientState.CONNECTING
        loop = asyncio.get_running_loop()
        url = self.spec.url
        if options.compression_context:
            url += ("&" if "?" in url else "?") + "compression=context"
        uri = parse_uri(url)
        headers = {"Authorization": f"Bearer {self.spec.token}"} if self.spec.token else {}
        extensions = enable_client_permessage_deflate(None) if options.compression == "deflate" else None
        self.hello = loop.create_future()
        started = time.monotonic()
        try:
            async with asyncio.timeout(options.connect_timeout_s):
                _, self.wire = await loop.create_connection(
                    lambda: _Wire(self, ClientProtocol(uri, extensions=extensions, max_size=2**22), headers),
                    uri.host, uri.port)
                await self.wire.opened
                hello = await self.hello
                if hello.get("type") != "hello":
                    raise ConnectionError(f"first frame was {hello.get('type')!r}, not hello")
                self.connect_s = time.monotonic() - started
                for room in self.spec.rooms:
                    # A socket that saw a room before resumes it from the last seq it saw.
                    since = {"since": self.heads[room]} if room in self.heads else {}
                    reply = await self.request({"type": "subscribe", "room": room, **since})
                    if reply.get("type") != "subscribed":
                        raise ConnectionError(f"subscribe to room {room}: {reply.get('code') or reply.get('type')}")
                    self.heads[room] = max(self.heads.get(room, 0), int(reply.get("last_seq") or 0))
                self.subscribe_s = time.monotonic() - started - self.connect_s
            self.state = ClientState.OPEN
        except Exception as error:   # any failure to connect is a result to count, not a crash
            self.state = ClientState.FAILED
            self.error = f"{type(error).__name__}: {error}"[:200]
            if self.wire is not None and self.wire.transport is not None:
                self.wire.transport.abort()

    async def request(self, frame: dict, timeout: float = 15.0) -> dict:
        """Sends a frame with a fresh ref and answers the frame that carries the ref back."""
        assert self.wire is not None
        self._refs += 1
        ref = f"q{self._refs}"
        future = asyncio.get_running_loop().create_future()
        self.waiting[ref] = future
        try:
            self.wire.send_text(orjson.dumps({**frame, "ref": ref}).decode())
            return await asyncio.wait_for(future, timeout)
        finally:
            self.waiting.pop(ref, None)

    def on_text(self, payload: bytes, received: float) -> None:
        frame = orjson.loads(payload)
        kind = frame.get("type")
        if kind == "message":
            room, seq = frame["room"], frame["seq"]
            self.deliveries.append((room, seq, frame.get("client_id"), received))
            if seq > self.heads.get(room, 0):
                self.heads[room] = seq
        elif kind == "ack":
            send = self.sends.get(frame.get("client_id"))
            if send is not None and send.seq is None:
                send.t_ack, send.seq = received, frame["seq"]
                self.unacked -= 1
        elif self.hello is not None and not self.hello.done():
            self.hello.set_result(frame)
        else:
            self.other_frames[kind] += 1
            if kind == "error":
                self.errors[frame.get("code", "?")] += 1
            ref = frame.get("ref")
            future = self.waiting.get(ref) if ref is not None else None
            if future is not None and not future.done():
                future.set_result(frame)

    def on_closed(self, code: int) -> None:
        self.close_code = code
        if self.state is ClientState.OPEN:
            self.state = ClientState.CLOSED
        for future in (*self.waiting.values(), self.hello):
            if future is not None and not future.done():
                future.set_exception(ConnectionError(f"closed with code {code}"))
                future.add_done_callback(_retrieved)   # nobody may be waiting any more (a timed-out open)

    async def send_messages(self, phase: Phase, phase_no: int, start_at: float) -> None:
        assert self.wire is not None and self.spec.send_room is not None
        room, interval = self.spec.send_room, 1.0 / phase.rate
        count = max(1, round(phase.duration_s * phase.rate))
        body = "x" * phase.body_chars
        for n in range(count):
            due = start_at + (n + self.spec.send_slot) * interval
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.state is not ClientState.OPEN or self.wire.protocol.state is not State.OPEN:
                return   # closed by the server (e.g. a slow consumer's 4408): counted, not a crash
            client_id = f"c{self.spec.index}.{phase_no}.{n}"
            send = Send(room=room, t_due=due, t_sent=time.monotonic())
            self.sends[client_id] = send
            self.unacked += 1
            self.wire.send_text(orjson.dumps({"type": "send", "room": room, "client_id": client_id,
                                              "body": body}).decode())

    async def close(self) -> None:
        if self.wire is None or self.wire.transport is None or self.wire.lost.done():
            return
        self.wire.close()
        try:
            await asyncio.wait_for(asyncio.shield(self.wire.lost), 3)
        except asyncio.TimeoutError:
            self.wire.transport.abort()


class Worker:
    """One worker process's clients and its side of the command pipe."""

    def __init__(self, pipe: Connection, specs: list[ClientSpec], options: ClientOptions) -> None:
        self.pipe = pipe
        self.clients = [Client(spec) for spec in specs]
        self.options = options
        self.connected = 0
        self.storm_s: float | None = None   # the last phase's reconnect storm, when it had one

    def open_clients(self) -> list[Client]:
        return [c for c in self.clients if c.state is ClientState.OPEN]

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self.options.lifetime_s
        for _ in range(MAX_COMMANDS):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await loop.run_in_executor(None, self.pipe.poll, remaining):
                break
            name, args = self.pipe.recv()
            if name == "close":
                await self.close()
                self.pipe.send(("closed", None))
                return
            handler = {"connect": self.connect, "run": self.run, "drain": self.drain,
                       "requests": self.requests, "http": self.http}[name]
            self.pipe.send((name, await handler(*args)))
        await self.close()

    async def connect(self, upto: int | None) -> list[ClientRecord]:
        """Opens clients [connected, upto) with bounded concurrency; answers their records."""
        batch = self.clients[self.connected:upto]
        self.connected += len(batch)
        gate = asyncio.Semaphore(self.options.connect_concurrency)

        async def one(client: Client) -> None:
            async with gate:
                await client.open(self.options)

        await asyncio.gather(*(one(client) for client in batch))
        return [client.record() for client in batch]

    async def run(self, phase: Phase, phase_no: int, start_at: float) -> dict:
        """Sends for one phase; answers the highest acknowledged seq per room and the send count."""
        self.storm_s = None
        for client in self.clients:
            client.reset()
            client.unacked = 0
        senders = [c for c in self.open_clients() if c.spec.send_room is not None]
        storm = (asyncio.create_task(self.storm(start_at + phase.storm_at_s))
                 if phase.storm_at_s is not None else None)
        await asyncio.gather(*(c.send_messages(phase, phase_no, start_at) for c in senders))
        if storm is not None:
            self.storm_s = await storm
        for _ in range(int(phase.ack_timeout_s / 0.02)):
            if all(c.unacked <= 0 or c.state is not ClientState.OPEN for c in senders):
                break
            await asyncio.sleep(0.02)
        heads: dict[int, int] = {}
        for client in senders:
            for send in client.sends.values():
                if send.seq is not None:
                    heads[send.room] = max(heads.get(send.room, 0), send.seq)
        return {"heads": heads, "sent": sum(len(c.sends) for c in senders), "storm_s": self.storm_s}

    async def storm(self, at: float) -> float | None:
        """Drops every open receiver at once at `at`, reopens them all (resuming); answers the seconds
        from the drop until the last one had resubscribed (None if any failed)."""
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        receivers = [c for c in self.open_clients() if c.spec.send_room is None]
        for client in receivers:
            if client.wire is not None and client.wire.transport is not None:
                client.wire.transport.abort()
        dropped = time.monotonic()
        await asyncio.sleep(0)   # connection_lost runs: the clients see themselves closed
        gate = asyncio.Semaphore(self.options.connect_concurrency)

        async def one(client: Client) -> None:
            async with gate:
                await client.open(self.options)

        await asyncio.gather(*(one(c) for c in receivers))
        took = time.monotonic() - dropped
        return took if all(c.state is ClientState.OPEN for c in receivers) else None

    async def drain(self, heads: dict[int, int], timeout_s: float) -> list[ClientRecord]:
        """Waits until every open receiver has seen each of its rooms' heads; answers the phase's records."""
        def behind(client: Client) -> bool:
            return client.state is ClientState.OPEN and any(
                client.heads.get(room, 0) < heads[room] for room in client.spec.rooms if room in heads)

        for _ in range(int(timeout_s / 0.02)):
            if not any(behind(c) for c in self.clients):
                break
            await asyncio.sleep(0.02)
        return [c.record() for c in self.clients if c.state in (ClientState.OPEN, ClientState.CLOSED)]

    async def requests(self, plan: dict[int, list[dict]], timeout_s: float) -> dict[int, list[tuple]]:
        """Each planned client sends its frames one at a time: (latency s, reply type, item count, has_more)."""
        by_index = {c.spec.index: c for c in self.open_clients()}

        async def one(client: Client, frames: list[dict]) -> list[tuple]:
            results = []
            for frame in frames:
                started = time.monotonic()
                try:
                    reply = await client.request(frame, timeout_s)
                except (ConnectionError, asyncio.TimeoutError) as error:
                    results.append((time.monotonic() - started, type(error).__name__, 0, None))
                    continue
                results.append((time.monotonic() - started, reply.get("type"),
                                len(reply.get("messages") or ()), reply.get("has_more")))
            return results

        indexes = [i for i in plan if i in by_index]
        outcomes = await asyncio.gather(*(one(by_index[i], plan[i]) for i in indexes))
        return dict(zip(indexes, outcomes))

    async def http(self, base_url: str, plan: dict[int, list[str]], timeout_s: float) -> dict[int, list[tuple]]:
        """Each planned client GETs its paths one at a time on a kept-alive connection."""
        import httpx

        specs = {c.spec.index: c.spec for c in self.clients}

        async def one(spec: ClientSpec, paths: list[str]) -> list[tuple]:
            results = []
            headers = {"Authorization": f"Bearer {spec.token}"} if spec.token else {}
            async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout_s,
                                         trust_env=False) as http:
                for path in paths:
                    started = time.monotonic()
                    try:
                        response = await http.get(path)
                        data = response.json() if response.status_code == 200 else {}
                        results.append((time.monotonic() - started, response.status_code,
                                        len(data.get("messages") or ()), data.get("has_more")))
                    except httpx.HTTPError as error:
                        results.append((time.monotonic() - started, type(error).__name__, 0, None))
            return results

        indexes = [i for i in plan if i in specs]
        outcomes = await asyncio.gather(*(one(specs[i], plan[i]) for i in indexes))
        return dict(zip(indexes, outcomes))

    async def close(self) -> None:
        gate = asyncio.Semaphore(500)

        async def one(client: Client) -> None:
            async with gate:
                await client.close()

        try:
            await asyncio.wait_for(asyncio.gather(*(one(c) for c in self.clients)), 60)
        except asyncio.TimeoutError:
            pass


def _worker_main(pipe: Connection, specs: list[ClientSpec], options: ClientOptions) -> None:
    raise_nofile()
    worker = Worker(pipe, specs, options)
    try:
        import uvloop
    except ImportError:
        asyncio.run(worker.serve())
    else:
        uvloop.run(worker.serve())


class LoadGenerator:
    """The parent's handle on the worker processes. Clients are dealt to workers round-robin,
    so each worker gets its share of senders and receivers."""

    def __init__(self, specs: list[ClientSpec], *, workers: int = 1,
                 options: ClientOptions = ClientOptions()) -> None:
        self.specs = specs
        self.workers = max(1, min(workers, len(specs) or 1))
        self.options = options
        self._pipes: list[Connection] = []
        self._procs: list[multiprocessing.process.BaseProcess] = []
        self._phase_no = 0
        # The last phase's reconnect storm: seconds until every worker's receivers had resubscribed.
        self.last_storm_s: float | None = None

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.pid is not None]

    def start(self) -> "LoadGenerator":
        context = multiprocessing.get_context("spawn")
        for n in range(self.workers):
            parent, child = context.Pipe()
            proc = context.Process(target=_worker_main, args=(child, self.specs[n::self.workers], self.options),
                                   name=f"bench-worker-{n}", daemon=True)
            proc.start()
            child.close()
            self._pipes.append(parent)
            self._procs.append(proc)
        return self

    def __enter__(self) -> "LoadGenerator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _ask(self, commands: list[tuple[str, tuple]], timeout_s: float) -> list[Any]:
        for pipe, command in zip(self._pipes, commands):
            pipe.send(command)
        deadline = time.monotonic() + timeout_s
        replies = []
        for pipe, proc, (name, _) in zip(self._pipes, self._procs, commands):
            if not pipe.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"worker {proc.name} did not answer {name!r} within {timeout_s:g} s")
            try:
                reply_name, payload = pipe.recv()
            except (EOFError, ConnectionError) as error:
                proc.join(5)
                raise RuntimeError(f"worker {proc.name} died (exit code {proc.exitcode}) during {name!r}") from error
            assert reply_name == name, (reply_name, name)
            replies.append(payload)
        return replies

    def _all(self, name: str, *args: Any, timeout_s: float) -> list[Any]:
        return self._ask([(name, args)] * self.workers, timeout_s)

    def connect(self, upto: int | None = None, timeout_s: float = 600) -> list[ClientRecord]:
        """Connects the clients before global position `upto` (all when None) that are not connected yet."""
        if upto is None:
            commands = [("connect", (None,))] * self.workers
        else:
            commands = [("connect", (len(range(n, min(upto, len(self.specs)), self.workers)),))
                        for n in range(self.workers)]
        return [record for batch in self._ask(commands, timeout_s) for record in batch]

    def run_phase(self, phase: Phase, lead_s: float = 0.5) -> tuple[list[ClientRecord], int]:
        """One phase on every worker from a common start time; answers the records and the phase number."""
        self._phase_no += 1
        start_at = time.monotonic() + lead_s
        limit = lead_s + phase.duration_s + phase.ack_timeout_s + 30
        sent = self._all("run", phase, self._phase_no, start_at, timeout_s=limit)
        storms = [reply.get("storm_s") for reply in sent]
        self.last_storm_s = None if None in storms else max(storms, default=None)
        heads: dict[int, int] = {}
        for reply in sent:
            for room, seq in reply["heads"].items():
                heads[room] = max(heads.get(room, 0), seq)
        batches = self._all("drain", heads, phase.drain_timeout_s, timeout_s=phase.drain_timeout_s + 60)
        return [record for batch in batches for record in batch], self._phase_no

    def requests(self, plan: dict[int, list[dict]], timeout_s: float = 10) -> dict[int, list[tuple]]:
        return self._merge("requests", plan, timeout_s)

    def http(self, base_url: str, plan: dict[int, list[str]], timeout_s: float = 10) -> dict[int, list[tuple]]:
        return self._merge("http", plan, timeout_s, base_url)

    def _merge(self, name: str, plan: dict[int, list], timeout_s: float, *lead: Any) -> dict[int, list[tuple]]:
        owners = {spec.index: n % self.workers for n, spec in enumerate(self.specs)}
        per_worker = [{i: v for i, v in plan.items() if owners.get(i) == n} for n in range(self.workers)]
        total = timeout_s * max((len(v) for v in plan.values()), default=1) + 60
        replies = self._ask([(name, (*lead, share, timeout_s)) for share in per_worker], total)
        return {i: results for reply in replies for i, results in reply.items()}

    def stop(self) -> None:
        for pipe, proc in zip(self._pipes, self._procs):
            if proc.is_alive():
                try:
                    pipe.send(("close", ()))
                except (BrokenPipeError, OSError):
                    pass
        for proc in self._procs:
            proc.join(90)
            if proc.is_alive():
                proc.kill()
                proc.join(10)
        for pipe in self._pipes:
            pipe.close()
        self._pipes, self._procs = [], []

