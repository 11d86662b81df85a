"""What a stored message costs the server and how soon it arrives (issue 18 items 1 and 2, issue 20).

`send-path`: the many-rooms layout (everyone talking) at a fixed load well under saturation on the
embedded default (SQLITE_SYNCHRONOUS=full), embedded with SQLITE_SYNCHRONOUS=normal, Postgres + Redis
with one process and with two, and the baseline relaying the same messages: server CPU per stored
message against the target and against the baseline. Then the search over the same layout, embedded
with the sync on (the figure that counts) and off.

`postgres-latency`: the same layout on Postgres + Redis with two processes at 400 messages/s, latency
against p99 < 100 ms with the baseline beside it; then the search with one process and with two.

In both, the server processes run on one CPU and the load generator on the other (pin_apart).
"""

from __future__ import annotations

from bench.analysis import cpu_per_message_ms, ratio
from bench.generator import Phase
from bench.scenarios.common import RunOptions, chat_run, convene, log
from bench.scenarios.saturation import one_and_two, search_each
from bench.sizes import Sizes
from bench.targets import BaselineTarget, ConveneTarget, Layout, Target

CPU_TARGET_MS = 0.4          # issue 18: server CPU per stored message, on both backends
P99_TARGET_MS = 100.0        # issue 18: Postgres + Redis, two processes, 400 msg/s over 200 rooms x 10
TARGET_ROOMS, TARGET_MEMBERS, TARGET_RATE = 200, 10, 400.0

COLUMNS = {"embedded_full": "embedded, sync full (default)", "embedded_normal": "embedded, sync normal",
           "postgres_x1": "Postgres + Redis, 1 process", "postgres_x2": "Postgres + Redis, 2 processes (sum)",
           "baseline": "baseline"}
CPU_TARGETS = {"embedded_full": "the embedded default (SQLITE_SYNCHRONOUS=full)",
               "postgres_x1": "Postgres + Redis, one process",
               "postgres_x2": "Postgres + Redis, two processes (summed)"}


def _layout(sizes: Sizes) -> Layout:
    return Layout(rooms=sizes.many_rooms, members_per_room=sizes.many_members, senders_per_room=sizes.many_members)


def _full_size(layout: Layout) -> bool:
    return layout.rooms >= TARGET_ROOMS and layout.members_per_room >= TARGET_MEMBERS


def _phase(layout: Layout, messages_per_s: float, duration_s: float, sizes: Sizes) -> Phase:
    """`messages_per_s` in all, spread evenly over every sender of every room."""
    return Phase(rate=messages_per_s / layout.senders, duration_s=duration_s, body_chars=sizes.body_chars)


def _embedded(options: RunOptions, synchronous: str, name: str) -> ConveneTarget:
    # Set even where it is the default, so the label stays true if the default changes.
    return convene(options, backend="embedded", name=name, env={"SQLITE_SYNCHRONOUS": synchronous})


def _steady(targets: list[Target], layout: Layout, phase: Phase, options: RunOptions) -> dict[str, dict]:
    """One pinned steady phase per target, in turn: results by target name, with CPU per stored message."""
    results = {}
    for target in targets:
        log(f"{target.name}: {layout.rooms} rooms x {layout.members_per_room} members, all sending, "
            f"{phase.rate * layout.senders:g} msg/s in all for {phase.duration_s:g} s")
        with target:
            result = chat_run(target, layout, phase, options, pinned=True)
        result["cpu_per_message_ms"] = cpu_per_message_ms(result)
        result["services_cpu_per_message_ms"] = cpu_per_message_ms(result, of="services")
        results[target.name] = result
    return results


def _cpu_met(result: dict) -> bool:
    ms = result["cpu_per_message_ms"]
    return bool(result["clean"] and ms is not None and ms <= CPU_TARGET_MS)


def _p99_met(result: dict) -> bool:
    p99 = result["deliveries"]["latency_ms"].get("p99")
    return bool(result["clean"] and p99 is not None and p99 < P99_TARGET_MS)


def _losses(result: dict) -> str:
    d = result["deliveries"]
    return f"lost {d['lost']}, duplicates {d['duplicates']}, out of order {d['out_of_order']}"


def _sizes_undecided(layout: Layout, rate: float) -> str:
    return (f"the target is at {TARGET_ROOMS} rooms x {TARGET_MEMBERS} members; this run had {layout.rooms} x "
            f"{layout.members_per_room} at {rate:g} msg/s")


def run(sizes: Sizes, options: RunOptions) -> dict:
    layout = _layout(sizes)
    phase = _phase(layout, sizes.sendpath_rate, sizes.sendpath_duration_s, sizes)
    steady = _steady([_embedded(options, "full", "embedded_full"), _embedded(options, "normal", "embedded_normal"),
                      *one_and_two(options, "postgres"), BaselineTarget()], layout, phase, options)
    log("send-path: the search over the same layout, embedded with SQLITE_SYNCHRONOUS=full, then =normal")
    searched = search_each([_embedded(options, "full", "search_full"), _embedded(options, "normal", "search_normal")],
                           layout, sizes.many_search_start_rate, sizes, options, pinned=True)
    base = steady["baseline"]["cpu_per_message_ms"]
    targets = []
    for name, label in CPU_TARGETS.items():
        result = steady[name]
        ms = result["cpu_per_message_ms"]
        targets.append({
            "target": f"send path: server CPU <= {CPU_TARGET_MS} ms per stored message, {label}",
            "value": f"{ms} ms ({ratio(ms, base)}x the baseline's {base} ms); {_losses(result)}",
            "met": _cpu_met(result) if _full_size(layout) else None,
            "undecided": _sizes_undecided(layout, sizes.sendpath_rate)})

    def synced(sync: str) -> str:
        lat = steady[f"embedded_{sync}"]["deliveries"]
        return (f"{sync}: {searched[f'search_{sync}']['max_sustained_messages_per_s']:.0f} msg/s sustained; at "
                f"{sizes.sendpath_rate:g} msg/s latency p50 {lat['latency_ms'].get('p50')} / p99 "
                f"{lat['latency_ms'].get('p99')} ms, ack p99 {lat['ack_ms'].get('p99')} ms")
    targets.append({"target": "embedded throughput and latency with SQLITE_SYNCHRONOUS=full (the figure that counts) "
                              "beside =normal",
                    "value": f"{synced('full')}; {synced('normal')}", "met": None,
                    "undecided": "reported side by side; issue 20 sets no pass mark"})
    return {"layout": layout.__dict__, "phase": phase.__dict__, "offered_messages_per_s": sizes.sendpath_rate,
            "step_s": sizes.scaleout_step_s, "p99_limit_ms": sizes.p99_limit_ms, "cpu_target_ms": CPU_TARGET_MS,
            "steady": steady, "search": searched,
            "ratio": {"cpu_per_message": {name: ratio(steady[name]["cpu_per_message_ms"], base)
                                          for name in COLUMNS if name != "baseline"}},
            "targets": targets}


def postgres_latency(sizes: Sizes, options: RunOptions) -> dict:
    layout = _layout(sizes)
    phase = _phase(layout, sizes.pglatency_rate, sizes.pglatency_duration_s, sizes)
    steady = _steady([convene(options, backend="postgres", processes=2, name="postgres_x2"), BaselineTarget()],
                     layout, phase, options)
    log("postgres-latency: the search over the same layout, one process then two")
    searched = search_each(one_and_two(options, "search"), layout, sizes.many_search_start_rate, sizes, options,
                           pinned=True)
    two, base = steady["postgres_x2"], steady["baseline"]
    lat = two["deliveries"]["latency_ms"]
    x1, x2 = (searched[f"search_x{n}"]["max_sustained_messages_per_s"] for n in (1, 2))
    at_size = _full_size(layout) and sizes.pglatency_rate >= TARGET_RATE
    return {
        "layout": layout.__dict__, "phase": phase.__dict__, "offered_messages_per_s": sizes.pglatency_rate,
        "step_s": sizes.scaleout_step_s, "p99_limit_ms": sizes.p99_limit_ms, "p99_target_ms": P99_TARGET_MS,
        "steady": steady, "search": searched,
        "ratio": {"latency_p99": ratio(lat.get("p99"), base["deliveries"]["latency_ms"].get("p99")),
                  "saturation_two_over_one": ratio(x2, x1)},
        "targets": [
            {"target": f"Postgres + Redis, two processes: p99 < {P99_TARGET_MS:g} ms at {TARGET_RATE:g} msg/s over "
                       f"{TARGET_ROOMS} rooms x {TARGET_MEMBERS} members",
             "value": f"p50 {lat.get('p50')} / p95 {lat.get('p95')} / p99 {lat.get('p99')} ms (the baseline's p99 "
                      f"{base['deliveries']['latency_ms'].get('p99')} ms); {_losses(two)}",
             "met": _p99_met(two) if at_size else None,
             "undecided": _sizes_undecided(layout, sizes.pglatency_rate)},
            {"target": "Postgres + Redis saturation over many rooms: one process and two",
             "value": f"one process {x1:.0f} msg/s, two {x2:.0f} msg/s ({ratio(x2, x1)}x), "
                      f"{layout.rooms} rooms x {layout.members_per_room} members",
             "met": None, "undecided": "reported; issue 18 sets no pass mark"}],
    }


# --- docs/performance.md ---------------------------------------------------------------------------


def markdown(name: str, run: dict) -> list[str]:
    """The section of `send-path` or `postgres-latency` in docs/performance.md."""
    from bench.report import _chat_columns, _n, _search_rows

    layout, phase, steady = run["layout"], run["phase"], run["steady"]
    pinned = next((r["pinned"] for r in steady.values() if r.get("pinned")), None)
    where = (f"servers on CPU {pinned['server_cpu']} (two processes share it), the load generator on CPU "
             f"{pinned['generator_cpu']}, Postgres and Redis where the kernel puts them" if pinned
             else "nothing pinned (one CPU)")
    intro = (f"{layout['rooms']} rooms × {layout['members_per_room']} members, every member sending, "
             f"{_n(run['offered_messages_per_s'])} messages/s in all for {phase['duration_s']:g} s; {where}. "
             "Server CPU per stored message: the server processes' CPU (both, for two processes) over the "
             "messages acknowledged.")
    base = steady["baseline"]["cpu_per_message_ms"]
    more = [("**server CPU per stored message (ms)**", lambda x: _n(x.get("cpu_per_message_ms"), 3)),
            ("  over the baseline's", lambda x: _n(ratio(x.get("cpu_per_message_ms"), base), 2)),
            ("Postgres + Redis CPU per stored message (ms)", lambda x: _n(x.get("services_cpu_per_message_ms"), 3))]
    search_intro = (f"The search over the same layout: steps of {run['step_s']:g} s; a step passes with zero loss, in "
                    f"order, p99 < {run['p99_limit_ms']:g} ms and delivering ≥ 90 % of the offered rate.")
    if name == "send-path":
        more.insert(2, (f"  ≤ {CPU_TARGET_MS:g} ms, the target (zero loss, in order)",
                        lambda x: _n(_cpu_met(x)) if x["target"]["name"] in CPU_TARGETS else "–"))
        return [intro, "", *_chat_columns({label: steady[key] for key, label in COLUMNS.items()}, more),
                f"{search_intro} Embedded, SQLITE_SYNCHRONOUS=full (the default, the figure that counts) and "
                "=normal:", "", *_search_rows(run["search"], ["search_full", "search_normal"])]
    more.insert(0, (f"p99 < {P99_TARGET_MS:g} ms, the target (zero loss, in order)", lambda x: _n(_p99_met(x))))
    columns = {"Postgres + Redis, 2 processes": steady["postgres_x2"], "baseline": steady["baseline"]}
    return [intro, "", *_chat_columns(columns, more),
            f"{search_intro} Postgres + Redis with one process, then two; two over one "
            f"**{_n(run['ratio']['saturation_two_over_one'], 2)}×**:", "",
            *_search_rows(run["search"], ["search_x1", "search_x2"])]
