"""Runs the benchmark scenarios and writes docs/bench-results/ and the tables of docs/performance.md.

Usage: `python -m bench [--full] [--only SCENARIO …]`; see docs/performance.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import time
import traceback
from pathlib import Path

from bench import report
from bench.procstat import raise_nofile
from bench.scenarios import SCENARIOS, SKIPPED_BY_DEFAULT
from bench.scenarios.common import RunOptions, log
from bench.sizes import FULL, QUICK

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "docs" / "bench-results"
# The whole run stops by itself after this long, whatever happens.
DEADLINE_S = {"quick": 20 * 60, "full": 150 * 60}
# The machine is shared: each measured phase first waits this long at most for other load to calm down.
QUIET_WAIT_S = {"quick": 3.0, "full": 60.0}


class RunTimedOut(Exception):
    pass


def _on_alarm(signum: int, frame: object) -> None:
    raise RunTimedOut("the benchmark run exceeded its deadline")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the full sizes of issue 9 (default: quick sizes)")
    parser.add_argument("--only", action="append", choices=list(SCENARIOS), metavar="SCENARIO",
                        help=f"run only this scenario (repeatable): {', '.join(SCENARIOS)}")
    parser.add_argument("--backend", choices=["embedded", "postgres"], default="embedded",
                        help="Convene's backend for the single-process scenarios (default: embedded)")
    parser.add_argument("--workers", type=int, default=2, help="load generator processes (default 2)")
    parser.add_argument("--no-compression", action="store_true", help="do not offer permessage-deflate")
    parser.add_argument("--compression-context", action="store_true",
                        help="ask Convene for a compressor per socket (compression=context), like the baseline's")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the server during an extra phase of webinar-chat, many-rooms and history")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="where the JSON results go (docs/performance.md is only rendered from the default)")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/performance.md and the plot")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    sizes = FULL if args.full else QUICK
    options = RunOptions(backend=args.backend, workers=args.workers, compression=not args.no_compression,
                         compression_context=args.compression_context,
                         profile=args.profile, out_dir=args.out, quiet_wait_s=QUIET_WAIT_S[sizes.mode])
    names = args.only or [name for name in SCENARIOS if name not in SKIPPED_BY_DEFAULT]
    command = " ".join(["python -m bench", *argv])
    limit = raise_nofile()
    log(f"{sizes.mode} run of {', '.join(names)}; open-file limit {limit}")
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(DEADLINE_S[sizes.mode])
    machine = report.machine_info()
    failed = []
    started_run = time.monotonic()
    try:
        for name in names:
            started = time.monotonic()
            commit = report.git_commit()
            try:
                result = SCENARIOS[name](sizes, options)
            except RunTimedOut:
                raise
            except Exception:
                log(f"{name} failed:\n{traceback.format_exc()}")
                result = {"error": traceback.format_exc(), "targets": []}
                failed.append(name)
            result.update(scenario=name, mode=sizes.mode, command=command, git_commit=commit,
                          finished_at=time.strftime("%Y-%m-%d %H:%M %Z"),
                          duration_s=round(time.monotonic() - started, 1),
                          sizes=dataclasses.asdict(sizes), options={**dataclasses.asdict(options),
                                                                    "out_dir": str(options.out_dir)},
                          machine=machine)
            path = report.write_result(args.out, name, sizes.mode, result)
            log(f"{name} done in {time.monotonic() - started:.0f} s -> {path}")
            for target in result.get("targets", []):
                verdict = {True: "MET", False: "NOT MET"}.get(target["met"], f"not decided ({target.get('undecided')})")
                log(f"  target: {target['target']}: {target['value']} -> {verdict}")
    finally:
        signal.alarm(0)
    if args.out.resolve() != DEFAULT_OUT.resolve() and not args.no_docs:
        log(f"results are in {args.out}; docs/performance.md keeps the tables of {DEFAULT_OUT}")
    elif not args.no_docs:
        results = report.load_results(args.out)
        report.update_markdown(REPO_ROOT / "docs" / "performance.md", report.render(results))
        plot = report.plot_latency(results, args.out / "latency.png")
        log(f"docs/performance.md updated{'; plot ' + str(plot) if plot else ''}")
    log(f"finished in {time.monotonic() - started_run:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
