"""Capacity: idle, subscribed sockets ramped in steps until a limit; memory per connection and connect rate.

Every socket subscribes to the same room (an audience that suddenly fills a
room). After each step the server's RSS is read once the step has settled; the
memory per connection is the slope of RSS against connections (least squares
over the steps) and, more simply, (RSS now - RSS before the first socket) / N.
At the top, one message is sent to the room to prove every socket is live and
to time the fan-out to all of them.
"""

from __future__ import annotations

import math
import time

from bench.analysis import connect_summary, delivery_summary, is_clean, ratio
from bench.generator import LoadGenerator, Phase
from bench.procstat import Sampler, rss_kib
from bench.scenarios.common import RunOptions, both, log
from bench.sizes import Sizes
from bench.targets import Layout, Target, settle

MAX_FAILURE_SHARE = 0.01       # a step with more failed connects than this is the limit
MAX_CONNECT_P99_S = 10.0


def _slope(points: list[tuple[int, int]]) -> float | None:
    """Least-squares KiB per connection."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else None


def _ramp(target: Target, sizes: Sizes, options: RunOptions) -> dict:
    per_member = math.ceil(sizes.capacity_max / sizes.capacity_members)
    layout = Layout(rooms=1, members_per_room=sizes.capacity_members, senders_per_room=1,
                    connections_per_member=per_member)
    specs = target.clients(layout)[:sizes.capacity_max]
    server_pid = target.pids[0]
    with LoadGenerator(specs, workers=sizes.capacity_workers, options=options.client_options) as gen:
        settle(1.0)
        rss0 = rss_kib(server_pid) or 0
        steps: list[dict] = []
        established = 0
        limit = f"the configured ceiling of {sizes.capacity_max} connections"
        for upto in range(sizes.capacity_step, sizes.capacity_max + 1, sizes.capacity_step):
            t0 = time.monotonic()
            batch = connect_summary(gen.connect(upto), time.monotonic() - t0)
            established += batch["established"]
            settle(1.5)
            rss = rss_kib(server_pid) or 0
            step = {"connections": established, "rss_mib": round(rss / 1024, 1),
                    "kib_per_connection": round((rss - rss0) / established, 1) if established else None,
                    "batch": batch}
            steps.append(step)
            log(f"  {target.name}: {established} open, RSS {step['rss_mib']} MiB "
                f"({step['kib_per_connection']} KiB each), {batch['connects_per_s']}/s, "
                f"connect p99 {batch['connect_ms'].get('p99')} ms, failed {batch['failed']} "
                f"{batch['failure_kinds'] or ''}")
            if batch["failed"] > MAX_FAILURE_SHARE * batch["attempted"]:
                limit = f"connect failures ({batch['failure_kinds']})"
                break
            if (batch["connect_ms"].get("p99") or 0) > MAX_CONNECT_P99_S * 1000:
                limit = f"connect p99 above {MAX_CONNECT_P99_S:g} s"
                break
        idle = Sampler([server_pid]).start()
        time.sleep(3.0)
        idle_usage = idle.stop().as_dict()
        # One message to everyone: are all these sockets live, and how long does the fan-out take?
        records, _ = gen.run_phase(Phase(rate=1.0, duration_s=1.0, ack_timeout_s=30, drain_timeout_s=60))
        probe = delivery_summary(records)
    slope = _slope([(0, rss0)] + [(s["connections"], int(s["rss_mib"] * 1024)) for s in steps])
    top = steps[-1] if steps else {}
    return {
        "target": target.describe(), "rss_before_mib": round(rss0 / 1024, 1), "steps": steps,
        "max_connections": established, "limit": limit,
        "kib_per_connection": top.get("kib_per_connection"),
        "kib_per_connection_slope": round(slope, 1) if slope is not None else None,
        "connects_per_s": round(sum(s["batch"]["connects_per_s"] or 0 for s in steps) / len(steps), 1)
        if steps else None,
        "idle_cpu_util": idle_usage["cpu_util"],
        "fanout_probe": {"clean": is_clean(probe), "deliveries": probe["deliveries_received"],
                         "expected": probe["deliveries_expected"], "latency_ms": probe["latency_ms"]},
    }


def run(sizes: Sizes, options: RunOptions) -> dict:
    results = {}
    for target in both(options):
        log(f"capacity on {target.name}: idle subscribed sockets in steps of {sizes.capacity_step} "
            f"up to {sizes.capacity_max}")
        with target:
            results[target.name] = _ramp(target, sizes, options)
    c, b = results["convene"], results["baseline"]
    per_conn = c["kib_per_connection_slope"] or c["kib_per_connection"]
    return {
        **results,
        "ratio": {"kib_per_connection": ratio(per_conn, b["kib_per_connection_slope"] or b["kib_per_connection"]),
                  "connects_per_s": ratio(c["connects_per_s"], b["connects_per_s"])},
        "targets": [{"target": ">= 10,000 concurrent connections in one process at <= 30 KB RSS each",
                     "value": f"{c['max_connections']} connections, {per_conn} KiB each",
                     # A quick run's ceiling is below 10,000: it cannot decide the target.
                     "undecided": "a quick run's ceiling is below 10,000 connections",
                     "met": None if sizes.capacity_max < 10_000 else bool(
                         c["max_connections"] >= 10_000 and per_conn is not None
                         and per_conn * 1024 <= 30_000 and c["fanout_probe"]["clean"])}],
    }
