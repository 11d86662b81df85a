"""The WebRTC ceiling of one server process: video viewers added step by step, the server alone on one core.

The `media` scenario runs its viewers in the measuring process, on the same cores as the server, so
the machine ran out before the server did (docs/performance.md, "Media"). Here the server is pinned
to core 0 (`taskset -c 0`; its live-stream packager, a child, inherits that), and the publisher and
the viewers run in their own processes pinned to core 1, so they never take the server's core. The
viewers count the packets the server forwards (no decoding), so each costs the generator little.

At each step: the server's CPU (fraction of its one core), its packager's, the viewers' process's
and the frames each viewer got per second. A step is at full rate when every viewer got at least
90 % of what was published. Reported: CPU per viewer (the slope over the full-rate steps), the
viewers per core that gives, the first count at which delivery degraded, and which side was at its
limit then — the server's core, or the viewers' (then the server's ceiling is higher than measured).

Runs in a loopback-only network namespace like the media tests (root, `unshare -n`):
`python -m bench --only webrtc-ceiling [--full]`. A smoke size (`measure smoke`) proves it works.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.procstat import children_of, cpu_seconds, rss_kib
from bench.scenarios.common import RunOptions, log
from bench.scenarios.media import presenting
from bench.sizes import Sizes

REPO_ROOT = Path(__file__).resolve().parents[2]
REASON = "needs root, unshare/ip/taskset and two cores; run it as root with --only webrtc-ceiling"
STEPS = {"smoke": (1, 2), "quick": (5, 10, 20), "full": (10, 20, 40, 60, 80, 100, 120, 150)}
WINDOW_S = {"smoke": 1.0, "quick": 3.0, "full": 10.0}
SERVER_CORE, LOAD_CORE = "0", "1"
SATURATED = 0.95          # a process this busy (fraction of its core) is at its limit
FULL_VIDEO_FPS, FULL_AUDIO_FPS = 27.0, 45.0   # 90 % of the publisher's 30 frames and 50 audio packets a second


def can_run() -> bool:
    return os.geteuid() == 0 and (os.cpu_count() or 1) >= 2 and \
        all(shutil.which(tool) for tool in ("unshare", "ip", "taskset"))


def run(sizes: Sizes, options: RunOptions) -> dict:
    if not can_run():
        return {"error": REASON, "targets": []}
    log(f"webrtc-ceiling: {sizes.mode} run in a loopback-only namespace, server on core {SERVER_CORE}")
    command = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" -m bench.scenarios.webrtc_ceiling "$@"',
               sys.executable, "measure", sizes.mode]
    proc = subprocess.run(command, cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                          capture_output=True, text=True, timeout=3600)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"webrtc-ceiling measurement failed ({proc.returncode}): {proc.stderr[-3000:]}")
    result = json.loads(lines[-1])
    result["targets"] = targets(result)
    return result


def summarize(idle: dict, steps: list[dict]) -> dict:
    """CPU per viewer (least squares over the full-rate steps and the idle server), viewers per core it gives,
    and where delivery first degraded."""
    points = [(0, idle["server_cpu"])] + [(s["viewers"], s["server_cpu"]) for s in steps if s["full_rate"]]
    per_viewer = None
    if len(points) >= 2:
        mean_x = statistics.fmean(x for x, _ in points)
        mean_y = statistics.fmean(y for _, y in points)
        spread = sum((x - mean_x) ** 2 for x, _ in points)
        per_viewer = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else None
    degraded = next((s for s in steps if not s["full_rate"]), None)
    full = [s["viewers"] for s in steps if s["full_rate"]]
    return {
        "cpu_per_viewer": round(per_viewer, 5) if per_viewer else None,
        "viewers_per_core": int((1 - idle["server_cpu"]) / per_viewer) if per_viewer and per_viewer > 0 else None,
        "last_full_rate": max(full) if full else None,
        "degraded_at": degraded["viewers"] if degraded else None,
        "limited_by": degraded["bound"] if degraded else None,
    }


def targets(result: dict) -> list[dict]:
    ceiling = result.get("ceiling") or {}
    if not ceiling.get("cpu_per_viewer"):
        return []
    degraded = ceiling["degraded_at"]
    where = (f"delivery degraded at {degraded} ({ceiling['limited_by'] or 'neither core saturated'})"
             if degraded else f"full rate up to {ceiling['last_full_rate']}, the largest step")
    return [{"target": "WebRTC video viewers per server core (server alone on one core, viewers on the other)",
             "value": f"{ceiling['viewers_per_core']} by extrapolation ({ceiling['cpu_per_viewer'] * 100:.2f} % of "
                      f"a core each); {where}",
             "met": None, "undecided": "no pass mark in issue 17: measured"}]


def markdown(run: dict) -> str:
    """The table for docs/performance.md (bench/report.py)."""
    rows = ["| viewers | server CPU (its core) | server RSS | packager CPU | viewers' process CPU (other core) | "
            "video fps min / median | audio packets/s min | full rate | at its limit |",
            "|---|---|---|---|---|---|---|---|---|"]
    idle = run["idle"]
    rows.append(f"| 0 (publisher only) | {idle['server_cpu'] * 100:.1f} % | {idle['server_rss_mib']:.0f} MiB | "
                f"{idle['packager_cpu'] * 100:.1f} % | | | | | |")
    for s in run["steps"]:
        rows.append(f"| {s['viewers']} | {s['server_cpu'] * 100:.1f} % | {s['server_rss_mib']:.0f} MiB | "
                    f"{s['packager_cpu'] * 100:.1f} % | {s['viewers_cpu'] * 100:.1f} % | "
                    f"{s['video_fps_min']:.1f} / {s['video_fps_median']:.1f} | {s['audio_fps_min']:.1f} | "
                    f"{'yes' if s['full_rate'] else 'no'} | {s['bound'] or ''} |")
    c = run["ceiling"]
    per = (f"CPU per viewer {c['cpu_per_viewer'] * 100:.2f} % of a core, so about {c['viewers_per_core']} viewers "
           "per core" if c["cpu_per_viewer"] else "Too few steps for a CPU slope")
    intro = (f"Server pinned to core {SERVER_CORE}, publisher and viewers to core {LOAD_CORE}; {run['window_s']:g} s "
             f"windows. {per}; "
             f"full rate up to {c['last_full_rate']}; degraded at {c['degraded_at'] or 'no step'}"
             f"{' (' + c['limited_by'] + ' at its limit)' if c['limited_by'] else ''}.")
    return "\n".join([intro, "", *rows])


# --- inside the namespace ----------------------------------------------------------------------------


def _pinned_server(data_dir: Path):
    from tests.conftest import embedded_env
    from tests.support.services import ServerProcess

    class PinnedServer(ServerProcess):
        def command(self) -> list[str]:
            return ["taskset", "-c", SERVER_CORE, *super().command()]

    # No viewer budget here: the point is to find the process's own limit.
    return PinnedServer(env=embedded_env(data_dir, MEDIA_HOST_ADDRESSES="127.0.0.1", MEDIA_MAX_VIEWERS="1000000"))


def _affinity(pid: int) -> list[int]:
    return sorted(os.sched_getaffinity(pid))


async def _measure(mode: str) -> dict:
    from tests.support.client import Api

    server = _pinned_server(Path(tempfile.mkdtemp(prefix="convene-bench-ceiling-")))
    server.start(timeout=60)
    publisher = viewers = None
    try:
        host, webinar, publisher = await presenting(server, "Ceiling", pin=("taskset", "-c", LOAD_CORE))
        people = []
        for _ in range(max(STEPS[mode])):
            person = await Api.register(server.url)
            assert (await person.http.post(f"/api/webinars/{webinar}/register")).status_code == 200
            people.append({"token": person.token, "id": person.id})
            await person.aclose()
        tokens = Path(tempfile.mkdtemp(prefix="convene-bench-viewers-")) / "tokens.json"
        tokens.write_text(json.dumps(people))
        viewers = subprocess.Popen(
            ["taskset", "-c", LOAD_CORE, sys.executable, "-m", "bench.scenarios.webrtc_ceiling", "viewers",
             server.ws_url, str(webinar), str(host.id), str(tokens)],
            cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        window = WINDOW_S[mode]
        await asyncio.sleep(min(2.0, window))
        idle = _sample(server.pid, viewers.pid, window)
        steps: list[dict] = []
        for count in STEPS[mode]:
            log(f"webrtc-ceiling: {count} video viewers")
            opened = _ask(viewers, {"open": count})
            if opened.get("failed"):
                steps.append({"viewers": count, "failed": opened["failed"], **_empty_step()})
                break
            time.sleep(1.0)
            _ask(viewers, {"reset": True})
            sample = _sample(server.pid, viewers.pid, window)
            counts = _ask(viewers, {"counts": True})
            video = [n / window for n in counts["video"]]
            audio = [n / window for n in counts["audio"]]
            step = {"viewers": count, **sample,
                    "video_fps_min": round(min(video), 1), "video_fps_median": round(statistics.median(video), 1),
                    "audio_fps_min": round(min(audio), 1)}
            step["full_rate"] = step["video_fps_min"] >= FULL_VIDEO_FPS and step["audio_fps_min"] >= FULL_AUDIO_FPS
            step["bound"] = ("the server's core" if sample["server_cpu"] >= SATURATED else
                             "the viewers' core" if sample["viewers_cpu"] >= SATURATED else None)
            steps.append(step)
            if not step["full_rate"] and len([s for s in steps if not s["full_rate"]]) >= 2:
                break   # degraded twice: the ceiling is behind us
        return {"idle": idle, "steps": steps, "window_s": window, "ceiling": summarize(idle, steps),
                "affinity": {"server": _affinity(server.pid), "viewers": _affinity(viewers.pid),
                             "publisher": _affinity(publisher.pid)},
                "published": {"width": 640, "height": 480, "fps": 30, "codec": "vp8+opus"}}
    except BaseException:
        print(server.log_tail(40), file=sys.stderr, flush=True)
        raise
    finally:
        if viewers is not None:
            try:
                _ask(viewers, {"close": True}, timeout=30)
            except Exception:   # it may be what failed
                viewers.kill()
            viewers.wait(30)
        if publisher is not None:
            publisher.terminate()
            publisher.wait(10)
        server.stop()


def _empty_step() -> dict:
    return {"server_cpu": 0.0, "server_rss_mib": 0.0, "packager_cpu": 0.0, "viewers_cpu": 0.0, "video_fps_min": 0.0,
            "video_fps_median": 0.0, "audio_fps_min": 0.0, "full_rate": False, "bound": None}


def _ask(proc: subprocess.Popen, command: dict, timeout: float = 300) -> dict:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(command) + "\n")
    proc.stdin.flush()
    line = proc.stdout.readline()   # the viewers' process answers every command with one line
    if not line:
        raise RuntimeError(f"the viewers' process exited ({proc.poll()}) on {command}")
    return json.loads(line)


def _sample(server: int, viewers: int, window_s: float) -> dict:
    """Over the window, in fractions of one core: the server, its children (the packager), the viewers' process."""
    kids = children_of(server)

    def read() -> tuple[float, float, float, float]:
        return (cpu_seconds(server) or 0.0, sum(cpu_seconds(k) or 0.0 for k in kids), cpu_seconds(viewers) or 0.0,
                time.monotonic())

    before = read()
    time.sleep(window_s)
    after = read()
    span = after[-1] - before[-1]
    own, packager, load = ((a - b) / span for a, b in zip(after[:-1], before[:-1]))
    return {"server_cpu": round(own, 4), "server_rss_mib": round((rss_kib(server) or 0) / 1024, 1),
            "packager_cpu": round(packager, 4), "viewers_cpu": round(load, 4)}


# --- the viewers' process (pinned to the other core) ---------------------------------------------------


async def _viewers(ws_url: str, webinar: int, publisher: int, tokens_file: str) -> None:
    from bench.scenarios.media import _Viewer
    from recordings.media.ice import restrict_host_addresses
    from tests.media.peers import until
    from tests.support.client import ChatClient

    class Member:
        def __init__(self, token: str) -> None:
            self.token = token

        async def connect(self, url: str) -> ChatClient:
            return await ChatClient.connect(url, self.token)

    restrict_host_addresses(["127.0.0.1"])
    people = json.loads(Path(tokens_file).read_text())
    open_viewers: list[_Viewer] = []
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def answer(message: dict) -> None:
        print(json.dumps(message), flush=True)

    while line := await reader.readline():
        command = json.loads(line)
        if "open" in command:
            failed = 0
            for person in people[len(open_viewers):command["open"]]:
                try:
                    open_viewers.append(await _Viewer.open(ws_url, Member(person["token"]), webinar, publisher,
                                                           audio_only=False))
                except Exception as error:   # the server refused or timed out: that is a result too
                    print(f"viewer failed to open: {error!r}", file=sys.stderr, flush=True)
                    failed += 1
            try:
                await until(lambda: all(v.video for v in open_viewers), "every viewer's first frames", 60)
            except AssertionError:
                failed += sum(1 for v in open_viewers if not v.video)
            answer({"opened": len(open_viewers), "failed": failed})
        elif "reset" in command:
            for v in open_viewers:
                v.video = v.audio = 0
            answer({"ok": True})
        elif "counts" in command:
            answer({"video": [v.video for v in open_viewers], "audio": [v.audio for v in open_viewers]})
        elif "close" in command:
            for v in open_viewers:
                await v.close()
            answer({"closed": len(open_viewers)})
            return


if __name__ == "__main__":
    if sys.argv[1] == "measure":
        from recordings.media.ice import restrict_host_addresses

        restrict_host_addresses(["127.0.0.1"])
        print(json.dumps(asyncio.run(_measure(sys.argv[2]))))
    elif sys.argv[1] == "viewers":
        asyncio.run(_viewers(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]))
