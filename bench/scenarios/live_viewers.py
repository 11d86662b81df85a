"""The live HTTP stream at scale: many viewers polling playlists and fetching segments (or parts), from the app
and through nginx with the shipped cache config (docs/nginx-live-cache.conf) in front.

A packager writes a live stream (real VP8/Opus packets, at their own pace) into the server's data
directory. Viewers run in `workers` processes, each an asyncio loop of kept-alive HTTP/1.1
connections (h11, one per viewer), as players would:
- standard: the video playlist, then a delta update (`_HLS_skip=YES`) every target duration (half
  of one when nothing was new), each new segment fetched;
- low latency: `ll.m3u8` with `_HLS_msn`/`_HLS_part` (a blocking reload) for the next part, each
  new part fetched.
Measured per phase: the time to fetch a segment or part (request to last byte; the part exists when
it is asked for), how many requests reached the origin, the server's (and nginx's) CPU, and from
that the server's CPU per viewer.

Run alone: `python -m bench.scenarios.live_viewers [--viewers N] [--seconds S]` (prints JSON and Markdown).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import re
import sys
import threading
import time

import httpx

from bench.analysis import summary_ms
from bench.procstat import Sampler, children_of
from bench.scenarios.common import RunOptions, convene, log
from bench.scenarios.history import _KeptAlive
from bench.sizes import Sizes
from recordings.live.packager import LivePackager
from recordings.live.playlists import edge
from recordings.live.settings import LiveSettings
from recordings.live.streams import live_dir
from tests.support.live_media import opus_packets, play, vp8_packets
from tests.support.nginx import NginxCache

WARMUP_S = 3.0          # the stream's first segments exist before viewers come
STAGGER_S = 2.0         # viewers arrive spread over this long (at most half the phase)
_SEGMENT = re.compile(r"^(seg-\d+\.m4s)$", re.M)
_PART = re.compile(r'#EXT-X-PART:[^\n]*URI="([^"]+)"')


async def _fetch(client: _KeptAlive, url: str, timings: list[float], counts: dict) -> None:
    """A segment or part, timed from the request to its last byte."""
    started = time.monotonic()
    status, data = await client.get(url)
    timings.append(time.monotonic() - started)
    counts["bytes"] += len(data)
    counts["errors"] += status != 200


async def _standard(client: _KeptAlive, base: str, until: float, timings: list[float], counts: dict) -> None:
    status, body = await client.get(f"{base}/video/index.m3u8")
    names = _SEGMENT.findall(body.decode())
    seen = set(names[:-2])   # start two segments behind the live edge, as the player does
    while time.monotonic() < until:
        new = [name for name in names if name not in seen]
        for name in new:
            await _fetch(client, f"{base}/video/{name}", timings, counts)
            seen.add(name)
        await asyncio.sleep(2.0 if new else 1.0)
        status, body = await client.get(f"{base}/video/index.m3u8?_HLS_skip=YES")
        counts["playlists"] += 1
        counts["errors"] += status != 200
        names = _SEGMENT.findall(body.decode())


async def _low_latency(client: _KeptAlive, base: str, until: float, timings: list[float], counts: dict) -> None:
    status, body = await client.get(f"{base}/video/ll.m3u8")
    text = body.decode()
    seen = set(_PART.findall(text))
    while time.monotonic() < until:
        at = edge(text)
        if at is None or at.ended:
            return
        status, body = await client.get(f"{base}/video/ll.m3u8?_HLS_msn={at.msn}&_HLS_part={at.parts}")
        counts["playlists"] += 1
        if status != 200:
            counts["errors"] += 1
            await asyncio.sleep(0.2)
            continue
        text = body.decode()
        for name in [n for n in _PART.findall(text) if n not in seen]:
            await _fetch(client, f"{base}/video/{name}", timings, counts)
            seen.add(name)


def _viewers_process(base_url: str, base: str, viewers: int, low: bool, start_at: float, until: float,
                     stagger: float, out: "multiprocessing.Queue[dict]") -> None:
    async def main() -> dict:
        timings: list[float] = []
        counts = {"bytes": 0, "errors": 0, "playlists": 0}
        rng = random.Random(viewers)

        async def one() -> None:
            await asyncio.sleep(max(0.0, start_at - time.monotonic()) + rng.random() * stagger)
            client = _KeptAlive(base_url, [])
            try:
                await (_low_latency if low else _standard)(client, base, until, timings, counts)
            except (OSError, ConnectionError) as error:
                counts["errors"] += 1
                counts.setdefault("failure", repr(error))
            finally:
                client.close()

        await asyncio.gather(*(one() for _ in range(viewers)))
        return {"timings": timings, **counts}

    out.put(asyncio.run(main()))


def phase(base_url: str, base: str, viewers: int, low: bool, seconds: float, workers: int,
          server_pids: list[int], nginx_pids: list[int]) -> dict:
    """`viewers` viewers for `seconds` (after they arrive), spread over `workers` processes."""
    context = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[dict] = context.Queue()
    stagger = min(STAGGER_S, seconds / 2)
    start_at = time.monotonic() + 2.0   # the processes' own start-up is not measured
    until = start_at + stagger + seconds
    shares = [viewers // workers + (1 if n < viewers % workers else 0) for n in range(workers)]
    processes = [context.Process(target=_viewers_process,
                                 args=(base_url, base, share, low, start_at, until, stagger, out))
                 for share in shares if share]
    for process in processes:
        process.start()
    time.sleep(max(0.0, start_at + stagger - time.monotonic()))
    server, nginx = Sampler(server_pids).start(), Sampler(nginx_pids).start()
    results = [out.get(timeout=seconds + 60) for _ in processes]
    usage, nginx_usage = server.stop().as_dict(), nginx.stop().as_dict()
    for process in processes:
        process.join(10)
    timings = [t for r in results for t in r["timings"]]
    cpu = usage["cpu_util"] or 0.0
    return {"viewers": viewers, "latency": "low" if low else "standard", "fetches": len(timings),
            "fetch_ms": summary_ms(timings), "playlists": sum(r["playlists"] for r in results),
            "errors": sum(r["errors"] for r in results), "mbytes": round(sum(r["bytes"] for r in results) / 1e6, 1),
            "cpu": usage, "cpu_per_viewer_pct": round(100 * cpu / max(1, viewers), 3),
            "nginx_cpu": nginx_usage if nginx_pids else None,
            "failures": [r["failure"] for r in results if "failure" in r][:3]}


def run_cases(viewers: int, seconds: float, workers: int = 2, options: RunOptions | None = None) -> dict:
    options = options or RunOptions()
    target = convene(options)
    result: dict = {"viewers": viewers, "seconds": seconds, "phases": []}
    with target:
        with httpx.Client(base_url=target.base_url, timeout=30) as http:
            host = {"username": f"host{random.randrange(10**9)}", "password": "correct horse battery"}
            assert http.post("/api/auth/register", json={**host, "display_name": "Host"}).status_code == 201
            token = http.post("/api/auth/token", json=host).json()["token"]
            webinar = http.post("/api/webinars", headers={"Authorization": f"Bearer {token}"}, json={
                "title": "A thousand viewers", "starts_at": "2026-12-07T12:00:00Z",
                "ends_at": "2026-12-07T14:00:00Z", "visibility": "public"}).json()
        assert target.data_dir is not None
        packager = LivePackager(webinar["id"], live_dir(target.data_dir, webinar["id"]), LiveSettings())
        # Every phase needs the stream going: it lasts the whole run (four phases and their start-ups).
        total = WARMUP_S + 4 * (seconds + STAGGER_S + 5)
        packets = vp8_packets(total, 1, keyframe_s=2.0) + opus_packets(total, 1)
        publishing = threading.Thread(target=play, args=(packager, packets), daemon=True)
        log(f"  live-viewers: {len(packets)} packets prepared; the stream starts")
        publishing.start()
        time.sleep(WARMUP_S)
        base = f"/webinars/{webinar['id']}/live"
        try:
            with NginxCache(target.servers[0].port) as nginx:
                nginx_pids = [nginx.process.pid, *children_of(nginx.process.pid)] if nginx.process else []
                for via, url in (("app", target.base_url), ("nginx", nginx.url)):
                    for low in (False, True):
                        before = nginx.origin_requests() if via == "nginx" else 0
                        found = phase(url, base, viewers, low, seconds, workers, target.pids,
                                      nginx_pids if via == "nginx" else [])
                        found["via"] = via
                        if via == "nginx":
                            found["origin_requests"] = nginx.origin_requests() - before
                        result["phases"].append(found)
                        log(f"  live-viewers via {via}, {found['latency']}: {found['fetches']} fetches, p99 "
                            f"{found['fetch_ms'].get('p99')} ms, CPU {found['cpu']['cpu_util']}, errors {found['errors']}")
        finally:
            packager.close()
            packager.wait(30)
    return result


def markdown(result: dict) -> str:
    lines = [f"{result['viewers']} viewers for {result['seconds']:g} s per phase; the stream: 640×360 H.264 + AAC, "
             "2 s segments, ⅓ s parts. Fetch time: request to last byte of a segment (standard) or part (low latency). "
             "CPU in % of one core.", "",
             "| path | viewers' latency | fetches | fetch p50 / p95 / p99 / max (ms) | playlist requests | "
             "requests reaching the app | app CPU | app CPU per viewer | nginx CPU | errors |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for p in result["phases"]:
        ms = p["fetch_ms"]
        reached = p.get("origin_requests", p["fetches"] + p["playlists"] + p["viewers"])
        nginx = f"{(p['nginx_cpu']['cpu_util'] or 0) * 100:.1f} %" if p.get("nginx_cpu") else ""
        lines.append(f"| {p['via']} | {p['latency']} | {p['fetches']} | {ms.get('p50')} / {ms.get('p95')} / "
                     f"{ms.get('p99')} / {ms.get('max')} | {p['playlists']} | {reached} | "
                     f"{(p['cpu']['cpu_util'] or 0) * 100:.1f} % | {p['cpu_per_viewer_pct']} % | {nginx} | "
                     f"{p['errors']} |")
    return "\n".join(lines)


def run(sizes: Sizes, options: RunOptions) -> dict:
    """The bench runner's interface: full 1,000 viewers for 60 s per phase, quick 50 for 6 s."""
    result = run_cases(sizes.live_viewers, sizes.live_viewers_s, options.workers, options)
    result["targets"] = []
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    found = run_cases(args.viewers, args.seconds)
    print(json.dumps(found, indent=1))
    print(markdown(found), file=sys.stderr)
