"""Saturation (one room, offered load stepped up until p99 or loss gives) and scale-out (the same search,
and one over many small rooms, on Postgres + Redis with one server process, then two)."""

from __future__ import annotations

from bench.analysis import ratio
from bench.scenarios.common import RunOptions, both, convene, geometric, log, search
from bench.sizes import Sizes
from bench.targets import ConveneTarget, Layout


def run(sizes: Sizes, options: RunOptions) -> dict:
    layout = Layout(rooms=1, members_per_room=sizes.saturation_members, senders_per_room=sizes.saturation_senders)
    rates = geometric(sizes.saturation_start_rate, sizes.saturation_growth, sizes.saturation_steps)
    results = {}
    for target in both(options):
        log(f"saturation on {target.name}: 1 room x {layout.members_per_room} members, {layout.senders} senders, "
            f"steps of {sizes.saturation_step_s:g} s")
        with target:
            results[target.name] = search(target, layout, rates, sizes.saturation_refine,
                                          sizes.saturation_step_s, sizes, options)
    c, b = results["convene"], results["baseline"]
    share = ratio(c["max_sustained_deliveries_per_s"], b["max_sustained_deliveries_per_s"])
    # What the two would carry if each had a CPU to itself: the inverse ratio of CPU per delivery.
    cpu_share = ratio(b["server_cpu_us_per_delivery"], c["server_cpu_us_per_delivery"])
    return {
        "layout": layout.__dict__, "step_s": sizes.saturation_step_s, "p99_limit_ms": sizes.p99_limit_ms, **results,
        "ratio": {"max_sustained_deliveries_per_s": share, "cpu_per_delivery_inverse": cpu_share},
        "targets": [{"target": "saturation throughput >= 0.5x the baseline's",
                     "value": f"{c['max_sustained_deliveries_per_s']:.0f} vs {b['max_sustained_deliveries_per_s']:.0f} "
                              f"deliveries/s = {share}x"
                              + (f" (the machine's CPUs were {b['machine_cpu_share_at_max']:.0%} busy at the "
                                 "baseline's best step)" if (b["machine_cpu_share_at_max"] or 0) >= 0.75 else "")
                              + f"; by server CPU per delivery {cpu_share}x",
                     "met": bool(share is not None and share >= 0.5)}],
    }


def one_and_two(options: RunOptions, prefix: str) -> list[ConveneTarget]:
    """Convene on Postgres + Redis with one process, then two: `<prefix>_x1`, `<prefix>_x2`."""
    return [convene(options, backend="postgres", processes=n, name=f"{prefix}_x{n}") for n in (1, 2)]


def search_each(targets: list[ConveneTarget], layout: Layout, start_rate: float, sizes: Sizes,
                options: RunOptions, pinned: bool = False) -> dict[str, dict]:
    """The scale-out search (its growth, steps, bisections and step length) over `layout` on each
    target in turn, started and stopped here: results by target name."""
    rates = geometric(start_rate, sizes.scaleout_growth, sizes.scaleout_steps)
    results = {}
    for target in targets:
        log(f"  {target.name}: {target.process_count} process(es) on {target.backend}, {layout.rooms} room(s) x "
            f"{layout.members_per_room} members spread over them")
        with target:
            results[target.name] = search(target, layout, rates, sizes.scaleout_refine, sizes.scaleout_step_s,
                                          sizes, options, pinned=pinned)
    return results


def scale_out(sizes: Sizes, options: RunOptions) -> dict:
    """Two searches, each with one process and then two: one room's fan-out (the saturation search's
    load), and many two-member rooms, where the servers' work per message (a commit, a publish) far
    outweighs the load generator's. On a machine where the generator needs as much CPU as a server,
    only the second can show what a second process adds."""
    room = Layout(rooms=1, members_per_room=sizes.scaleout_members, senders_per_room=sizes.scaleout_senders)
    rooms = Layout(rooms=sizes.scaleout_rooms, members_per_room=2, senders_per_room=1)
    searches = [("rooms", rooms, sizes.scaleout_rooms_start_rate,
                 f"{rooms.rooms} rooms x {rooms.members_per_room} members")]
    if sizes.scaleout_one_room:
        searches.insert(0, ("convene", room, sizes.scaleout_start_rate, f"1 room x {room.members_per_room} members"))
    results: dict = {}
    for prefix, layout, start_rate, label in searches:
        log(f"scale-out: {label}")
        results.update(search_each(one_and_two(options, prefix), layout, start_rate, sizes, options))
    # The search cannot tell apart loads closer than its last bisection step: "more" must beat that.
    resolution = round(sizes.scaleout_growth ** (1 / 2 ** sizes.scaleout_refine), 3)
    gains = {prefix: ratio(results[f"{prefix}_x2"]["max_sustained_deliveries_per_s"],
                           results[f"{prefix}_x1"]["max_sustained_deliveries_per_s"]) for prefix, *_ in searches}

    def figures(prefix: str) -> str:
        two, one = results[f"{prefix}_x2"], results[f"{prefix}_x1"]
        return (f"{two['max_sustained_deliveries_per_s']:.0f} vs {one['max_sustained_deliveries_per_s']:.0f} "
                f"deliveries/s = {gains[prefix]}x")

    gain = gains["rooms"]
    one_room = f"; one room's fan-out: {figures('convene')}" if "convene" in gains else ""
    return {
        "layout": room.__dict__, "rooms_layout": rooms.__dict__, "step_s": sizes.scaleout_step_s, **results,
        "ratio": {"two_over_one": gains.get("convene"), "two_over_one_rooms": gain}, "resolution": resolution,
        "targets": [{"target": "scale-out: two processes carry more than one",
                     "value": f"many two-member rooms: {figures('rooms')}{one_room} "
                              f"(the search resolves {resolution}x)",
                     # Within one bisection step of 1, either way, the search cannot say which carried more.
                     "met": None if gain is not None and 1 / resolution < gain < resolution
                     else bool(gain is not None and gain >= resolution),
                     "undecided": "the difference is within the search's resolution"}],
    }
