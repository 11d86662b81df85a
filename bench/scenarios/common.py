"""What the scenarios share: run options, one measured chat phase, and the stepped search for saturation."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from bench.analysis import connect_summary, cpu_per_delivery_us, delivery_summary, is_clean, median
from bench.generator import ClientOptions, LoadGenerator, Phase
from bench.procstat import Sampler, machine_cpu, pin, wait_for_quiet
from bench.sizes import Sizes
from bench.targets import BaselineTarget, ConveneTarget, Layout, Target, settle


@dataclass(frozen=True)
class RunOptions:
    backend: str = "embedded"          # Convene's backend in the single-process scenarios
    workers: int = 2                   # load generator processes
    compression: bool = True           # offer permessage-deflate, as browsers do
    compression_context: bool = False  # and ask Convene for a compressor per socket, as a data-saving client does
    profile: bool = False              # py-spy the server in an extra phase (webinar chat, many rooms, history)
    quiet_wait_s: float = 5.0          # before each measured phase, wait this long at most for a quiet machine
    out_dir: Path = Path("docs/bench-results")

    @property
    def client_options(self) -> ClientOptions:
        return ClientOptions(compression="deflate" if self.compression else None,
                             compression_context=self.compression_context)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def convene(options: RunOptions, **kwargs: object) -> ConveneTarget:
    return ConveneTarget(backend=str(kwargs.pop("backend", options.backend)), **kwargs)  # type: ignore[arg-type]


def both(options: RunOptions) -> list[Target]:
    return [convene(options), BaselineTarget()]


def pin_apart(target: Target, gen: LoadGenerator) -> dict | None:
    """The server processes on the first CPU this run may use, the load generator on the second, so
    neither takes the other's core (Postgres and Redis stay where the kernel puts them). None, and
    nothing pinned, on a single CPU."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    pin(target.pids, {cpus[0]})
    pin(gen.pids, {cpus[1]})
    return {"server_cpu": cpus[0], "generator_cpu": cpus[1]}


def measured(target: Target, gen: LoadGenerator, phase: Phase, options: RunOptions) -> dict:
    """One phase with the server's, its services' and the generator's CPU and memory sampled around it."""
    waited = wait_for_quiet(target.pids + target.service_pids + gen.pids, options.quiet_wait_s)
    server, services, generator = Sampler(target.pids).start(), Sampler(target.service_pids).start(), \
        Sampler(gen.pids).start()
    machine0 = machine_cpu()
    records, _ = gen.run_phase(phase)
    result = {"deliveries": delivery_summary(records), "server": server.stop().as_dict(),
              "generator": generator.stop().as_dict()}
    if target.service_pids:
        result["services"] = services.stop().as_dict()
    else:
        services.stop()
    result["server_cpu_us_per_delivery"] = cpu_per_delivery_us(result)
    busy, steal, total = (after - before for after, before in zip(machine_cpu(), machine0))
    ours = sum(result[k]["cpu_s"] for k in ("server", "services", "generator") if k in result)
    # Everything else the shared machine did meanwhile (other tenants, other test runs): the noise.
    result["machine"] = {"waited_for_quiet_s": round(waited, 1),
                         "busy_share": round(busy / total, 3) if total else None,
                         "others_share": round(max(0.0, busy - ours) / total, 3) if total else None,
                         "steal_share": round(steal / total, 3) if total else None}
    return result


def chat_run(target: Target, layout: Layout, phase: Phase, options: RunOptions,
             after: Callable[[LoadGenerator], dict] | None = None, pinned: bool = False) -> dict:
    """Seed, connect everyone, run one steady phase; `after` may run more on the same connections.
    `pinned`: server and generator on a CPU each (pin_apart) from the connects on."""
    started = time.monotonic()
    specs = target.clients(layout)
    seeded_s = time.monotonic() - started
    with LoadGenerator(specs, workers=options.workers, options=options.client_options) as gen:
        cpus = pin_apart(target, gen) if pinned else None
        t0 = time.monotonic()
        sampler = Sampler(target.pids).start()
        connected = connect_summary(gen.connect(), time.monotonic() - t0)
        connected["server"] = sampler.stop().as_dict()
        log(f"  {target.name}: {connected['established']}/{connected['attempted']} connected in "
            f"{connected['wall_s']} s (subscribed p99 {connected['subscribe_ms'].get('p99')} ms, server CPU "
            f"{connected['server']['cpu_s']} s); sending for {phase.duration_s:g} s")
        settle(2.0)
        result = {"target": target.describe(), "seed_s": round(seeded_s, 2), "connect": connected, "pinned": cpus,
                  **measured(target, gen, phase, options)}
        offered = layout.senders * phase.rate * layout.members_per_room
        result["offered_deliveries_per_s"] = round(offered, 1)
        result["clean"] = is_clean(result["deliveries"])
        d = result["deliveries"]
        log(f"  {target.name}: {d['deliveries_received']}/{d['deliveries_expected']} delivered, "
            f"p99 {d['latency_ms'].get('p99')} ms, lost {d['lost']}, dup {d['duplicates']}, "
            f"server CPU {result['server']['cpu_util']}")
        if after is not None:
            result.update(after(gen))
    return result


QUIET_SHARE = 0.1       # other work on the machine below this share of all CPUs counts as quiet


def machine_share(result: dict) -> float:
    """The share of the machine's CPUs that server, services and load generator used together: near 1,
    a ceiling is the machine's rather than the server's."""
    used = sum(result[k]["cpu_util"] or 0 for k in ("server", "services", "generator") if k in result)
    return round(used / len(os.sched_getaffinity(0)), 2)


def passes(step: dict, sizes: Sizes) -> bool:
    d = step["deliveries"]
    p99 = d["latency_ms"].get("p99", math.inf)
    return (is_clean(d) and d["receivers_closed"] == 0 and p99 < sizes.p99_limit_ms
            and (d["deliveries_per_s"] or 0) >= sizes.keep_up_ratio * step["offered_deliveries_per_s"])


def search(target: Target, layout: Layout, rates: list[float], refine: int, step_s: float, sizes: Sizes,
           options: RunOptions, pinned: bool = False) -> dict:
    """The highest load the target sustains. The offered load (messages per second, all senders of
    all rooms together; each message reaches its room's members) climbs through `rates` until a step fails, then `refine` more steps
    bisect (geometrically) between the last pass and the first failure. A step passes with zero loss,
    no duplicates, in order, p99 under the limit and delivering what was offered. The answer is the
    best passing step's deliveries per second. `pinned` as in chat_run."""
    specs = target.clients(layout)
    steps: list[dict] = []
    with LoadGenerator(specs, workers=options.workers, options=options.client_options) as gen:
        cpus = pin_apart(target, gen) if pinned else None
        t0 = time.monotonic()
        connected = connect_summary(gen.connect(), time.monotonic() - t0)
        settle(2.0)

        def step_at(rate: float) -> dict:
            phase = Phase(rate=rate / layout.senders, duration_s=step_s, body_chars=sizes.body_chars,
                          ack_timeout_s=10, drain_timeout_s=10)
            step = {"offered_messages_per_s": round(rate, 2),
                    "offered_deliveries_per_s": round(rate * layout.members_per_room, 1),
                    **measured(target, gen, phase, options)}
            step["passed"] = passes(step, sizes)
            step["machine_cpu_share"] = machine_share(step)
            steps.append(step)
            d = step["deliveries"]
            log(f"  {target.name}: offered {step['offered_deliveries_per_s']:>8.0f}/s  got "
                f"{d['deliveries_per_s'] or 0:>8.0f}/s  p99 {d['latency_ms'].get('p99', '-'):>8} ms  "
                f"lost {d['lost']}  closed {d['receivers_closed']}  server CPU {step['server']['cpu_util']}  "
                f"generator CPU {step['generator']['cpu_util']}  {'ok' if step['passed'] else 'FAIL'}")
            settle(1.0)
            return step

        def holds(rate: float) -> bool:
            # The machine is shared with other work: a failure counts once it is confirmed by a second
            # try, one of the two measured on a quiet machine, or after `attempts` tries whatever the noise.
            failures = 0
            for attempt in range(sizes.attempts):
                step = step_at(rate)
                if attempt:
                    step["retry"] = attempt
                if step["passed"]:
                    return True
                failures += 1
                quiet = (step["machine"]["others_share"] or 0) < QUIET_SHARE
                if (failures >= 2 and quiet) or step["deliveries"]["receivers_closed"] > layout.connections // 2:
                    return False    # confirmed, or the server shed most sockets: nothing left to measure
            return False

        passed: float | None = None
        failed: float | None = None
        for rate in rates:
            if not holds(rate):
                failed = rate
                break
            passed = rate
        for _ in range(refine if passed is not None and failed is not None else 0):
            if steps[-1]["deliveries"]["receivers_closed"] > layout.connections // 2:
                break
            middle = math.sqrt(passed * failed)
            if holds(middle):
                passed = middle
            else:
                failed = middle
    best = max((s for s in steps if s["passed"]), key=lambda s: s["deliveries"]["deliveries_per_s"] or 0,
               default=None)
    return {"target": target.describe(), "connect": connected, "pinned": cpus,
            # The median over the steps the server kept up with: what one delivery costs it.
            "server_cpu_us_per_delivery": median([cpu_per_delivery_us(s) for s in steps if s["passed"]]),
            "steps": sorted(steps, key=lambda s: s["offered_messages_per_s"]),
            "max_sustained_deliveries_per_s": best["deliveries"]["deliveries_per_s"] if best else 0.0,
            "max_sustained_messages_per_s": best["offered_messages_per_s"] if best else 0.0,
            "first_failure_messages_per_s": round(failed, 2) if failed is not None else None,
            "machine_cpu_share_at_max": best["machine_cpu_share"] if best else None}


def geometric(start: float, growth: float, steps: int) -> list[float]:
    return [start * growth ** k for k in range(steps)]
