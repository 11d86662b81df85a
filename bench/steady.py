"""One steady phase of the send-path layout on one target: for A/B runs of a single change.

    python -m bench.steady embedded --rate 200 --seconds 25 --env SEND_BATCH_MAX=1
    python -m bench.steady postgres --processes 2
    python -m bench.steady baseline

Prints the server's CPU per stored message and the latencies, as `send-path` measures them (the
server pinned to one CPU, the generator to the other). A short run on a shared virtual machine moves
by a quarter between runs: alternate the two sides several times, and never run it while tests run.
"""

from __future__ import annotations

import argparse
import json

from bench.scenarios.common import RunOptions, convene
from bench.scenarios.send_path import _layout, _phase, _steady
from bench.sizes import FULL, QUICK
from bench.targets import BaselineTarget, Target


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.steady", description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=["embedded", "postgres", "baseline"])
    parser.add_argument("--processes", type=int, default=1, help="Convene processes (postgres only)")
    parser.add_argument("--rate", type=float, default=FULL.sendpath_rate, help="messages per second in all")
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--quick", action="store_true", help="the quick sizes' layout (20 rooms x 10)")
    parser.add_argument("--quiet-wait", type=float, default=5.0,
                        help="seconds to wait at most for a quiet machine before the phase")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for Convene's processes (repeatable)")
    return parser.parse_args(argv)


def target_for(args: argparse.Namespace, options: RunOptions) -> Target:
    env = dict(item.split("=", 1) for item in args.env)
    if args.target == "baseline":
        return BaselineTarget()
    if args.target == "embedded":
        # As send-path labels it: the sync setting stated even where it is the default.
        return convene(options, backend="embedded", name="embedded", env={"SQLITE_SYNCHRONOUS": "full", **env})
    return convene(options, backend="postgres", processes=args.processes, name=f"postgres_x{args.processes}", env=env)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    options = RunOptions(quiet_wait_s=args.quiet_wait)
    target = target_for(args, options)
    layout = _layout(sizes)
    result = _steady([target], layout, _phase(layout, args.rate, args.seconds, sizes), options)[target.name]
    deliveries = result["deliveries"]
    print(json.dumps({"target": target.name, "settings": args.env, "rate": args.rate, "seconds": args.seconds,
                      "cpu_per_message_ms": result["cpu_per_message_ms"],
                      "lost": deliveries["lost"], "duplicates": deliveries["duplicates"],
                      "out_of_order": deliveries["out_of_order"],
                      "latency_ms": {k: deliveries["latency_ms"].get(k) for k in ("p50", "p99")}}))


if __name__ == "__main__":
    main()
