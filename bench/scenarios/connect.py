"""Connecting: the server's CPU per connect + hello + subscribe, and a reconnect storm with resume (issue 18, item 3).

`connect`: sockets spread over rooms of 10 connect, read hello and subscribe; the server's CPU over
that stretch divided by the sockets is the cost of one. The same sockets connect a second time (tokens
now cached, as after a deploy's reconnect), and the baseline (bench/baseline.py) in the same run.

`reconnect-storm`: everyone connected and subscribed, messages flowing in every room; a second into
the phase every receiving socket is dropped at once and reconnects, resuming each room from the last
seq it saw, while the senders go on. Reported: the time from the drop until every socket had
resubscribed, against the baseline's time for the same storm (ratio), and every delivery checked (no
loss, no duplicate, in order) across the storm on Convene. The baseline has no history to resume
from, so its deliveries are not checked.
"""

from __future__ import annotations

import time

from bench.analysis import connect_summary, delivery_summary, is_clean, ratio
from bench.generator import LoadGenerator, Phase
from bench.procstat import Sampler, wait_for_quiet
from bench.scenarios.common import RunOptions, both, log
from bench.sizes import Sizes
from bench.targets import Layout, Target, settle

MEMBERS_PER_ROOM = 10


def _connect_round(target: Target, specs: list, options: RunOptions) -> dict:
    with LoadGenerator(specs, workers=options.workers, options=options.client_options) as gen:
        wait_for_quiet(target.pids + target.service_pids + gen.pids, options.quiet_wait_s)
        server, services = Sampler(target.pids).start(), Sampler(target.service_pids).start()
        t0 = time.monotonic()
        summary = connect_summary(gen.connect(), time.monotonic() - t0)
        summary["server"] = server.stop().as_dict()
        summary["services"] = services.stop().as_dict() if target.service_pids else None
        if not target.service_pids:
            services.stop()
    established = summary["established"] or 1
    summary["server_cpu_ms_per_connect"] = round(summary["server"]["cpu_s"] * 1000 / established, 3)
    return summary


def connect(sizes: Sizes, options: RunOptions) -> dict:
    layout = Layout(rooms=max(1, sizes.connect_sockets // MEMBERS_PER_ROOM), members_per_room=MEMBERS_PER_ROOM)
    results = {}
    for target in both(options):
        log(f"connect on {target.name}: {layout.connections} sockets (connect, hello, subscribe), twice")
        with target:
            specs = target.clients(layout)
            rounds = []
            for n in range(2):
                rounds.append(_connect_round(target, specs, options))
                log(f"  {target.name} round {n + 1}: {rounds[-1]['established']}/{rounds[-1]['attempted']} in "
                    f"{rounds[-1]['wall_s']} s, server CPU {rounds[-1]['server_cpu_ms_per_connect']} ms per connect")
                settle(1.0)
            results[target.name] = {"target": target.describe(), "first": rounds[0], "again": rounds[1],
                                     "server_cpu_ms_per_connect": rounds[1]["server_cpu_ms_per_connect"]}
    c, b = results["convene"], results["baseline"]
    value = c["server_cpu_ms_per_connect"]
    return {"layout": layout.__dict__, **results,
            "ratio": {"server_cpu_per_connect": ratio(value, b["server_cpu_ms_per_connect"])},
            "targets": [{"target": "<= 1 ms of server CPU per connect + hello + subscribe (tokens cached)",
                         "value": f"{value} ms ({options.backend}); baseline {b['server_cpu_ms_per_connect']} ms",
                         "met": bool(c["again"]["failed"] == 0 and value <= 1.0)}]}


def _storm(target: Target, layout: Layout, phase: Phase, options: RunOptions) -> dict:
    specs = target.clients(layout)
    with LoadGenerator(specs, workers=options.workers, options=options.client_options) as gen:
        connected = connect_summary(gen.connect())
        settle(1.0)
        server = Sampler(target.pids).start()
        records, _ = gen.run_phase(phase)
        usage = server.stop().as_dict()
        storm_s = gen.last_storm_s
    deliveries = delivery_summary(records)
    log(f"  {target.name}: {layout.connections} sockets; all resubscribed in {storm_s} s; "
        f"lost {deliveries['lost']}, dup {deliveries['duplicates']}, out of order {deliveries['out_of_order']}")
    return {"target": target.describe(), "connect": connected, "storm_s": round(storm_s, 3) if storm_s else None,
            "deliveries": deliveries, "clean": is_clean(deliveries), "server": usage}


def reconnect_storm(sizes: Sizes, options: RunOptions) -> dict:
    layout = Layout(rooms=max(1, sizes.storm_sockets // MEMBERS_PER_ROOM), members_per_room=MEMBERS_PER_ROOM,
                    senders_per_room=1)
    phase = Phase(rate=sizes.storm_rate, duration_s=sizes.storm_duration_s, body_chars=sizes.body_chars,
                  storm_at_s=1.0, ack_timeout_s=30, drain_timeout_s=60)
    results = {}
    for target in both(options):
        log(f"reconnect storm on {target.name}: {layout.connections} sockets over {layout.rooms} rooms, "
            f"all receivers dropped 1 s into a {phase.duration_s:g} s phase")
        with target:
            results[target.name] = _storm(target, layout, phase, options)
    c, b = results["convene"], results["baseline"]
    storm_ratio = ratio(c["storm_s"], b["storm_s"])
    return {"layout": layout.__dict__, "phase": phase.__dict__, **results, "ratio": {"storm_s": storm_ratio},
            "targets": [{"target": "reconnect storm within 2x raw websockets' time, nothing lost",
                         "value": f"{c['storm_s']} s against {b['storm_s']} s ({storm_ratio}x), "
                                  f"lost {c['deliveries']['lost']}, duplicates {c['deliveries']['duplicates']}",
                         "undecided": "the target is for 10,000 sockets; a quick run has fewer",
                         "met": None if layout.connections < 10_000 else bool(
                             c["clean"] and storm_ratio is not None and storm_ratio <= 2.0)}]}


def markdown(name: str, run: dict) -> list[str]:
    """The generated tables of docs/performance.md for `connect` and `reconnect-storm`."""
    from bench.report import _n, _table

    layout = run["layout"]
    if name == "connect":
        rows = []
        for target in ("convene", "baseline"):
            for key, label in (("first", "first (tokens not cached)"), ("again", "again (cached)")):
                r = run[target][key]
                rows.append([target, label, f"{r['established']:,} / {r['attempted']:,}", _n(r["wall_s"], 1),
                             _n(r["connects_per_s"], 0), _n(r["server_cpu_ms_per_connect"], 2),
                             f"{_n(r['connect_ms']['p50'], 0)} / {_n(r['connect_ms']['p99'], 0)}",
                             f"{_n(r['subscribe_ms']['p50'], 0)} / {_n(r['subscribe_ms']['p99'], 0)}",
                             f"{r['other_frames'].get('presence', 0):,}"])
        return [f"{layout['rooms'] * layout['members_per_room']:,} sockets in rooms of {layout['members_per_room']}: "
                "connect, hello, subscribe, twice. Convene over the baseline in server CPU per connect: "
                f"**{_n(run['ratio']['server_cpu_per_connect'], 2)}×**.", ""] + _table(
            ["server", "round", "subscribed", "wall (s)", "connects/s", "server CPU per connect (ms)",
             "connect p50 / p99 (ms)", "subscribe p50 / p99 (ms)", "presence frames"], rows)
    rows = []
    for target in ("convene", "baseline"):
        r = run[target]
        d = r["deliveries"]
        rows.append([target, _n(r["storm_s"], 2), f"{d['lost']} / {d['duplicates']} / {d['out_of_order']}",
                     _n(r["server"]["cpu_s"], 1), _n(d["latency_ms"].get("p99"), 0)])
    return [f"{layout['rooms'] * layout['members_per_room']:,} sockets over {layout['rooms']:,} rooms, one sender per "
            "room; a second into the phase every receiver is dropped and reconnects, resuming from its last seq. "
            f"Convene over the baseline in time to all resubscribed: **{_n(run['ratio']['storm_s'], 2)}×** (the "
            "baseline has no history, so only Convene's deliveries are checked for loss).", ""] + _table(
        ["server", "all resubscribed after (s)", "lost / duplicates / out of order", "server CPU in the phase (s)",
         "delivery p99 (ms)"], rows)
