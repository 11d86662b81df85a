"""What a process costs, read from /proc: CPU seconds, resident memory, its children; and the fd limit."""

from __future__ import annotations

import os
import resource
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of the process so far, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces or parentheses: split after the last ")".
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_kib(pid: int) -> int | None:
    """Resident set size (VmRSS) in KiB, or None if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def children_of(pid: int) -> list[int]:
    """Direct children, found by scanning /proc (Postgres backends are the postmaster's)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def pin(pids: list[int], cpus: set[int]) -> None:
    """Keeps every thread of these processes on `cpus`; threads and children they start later inherit it
    (an affinity set on a PID alone covers only its main thread, not an SQLite or executor thread)."""
    for pid in pids:
        try:
            threads = [int(task.name) for task in Path(f"/proc/{pid}/task").iterdir()]
        except OSError:
            continue
        for tid in threads:
            try:
                os.sched_setaffinity(tid, cpus)
            except (ProcessLookupError, PermissionError):
                continue


def machine_cpu() -> tuple[float, float, float]:
    """(busy, stolen, total) CPU seconds of the whole machine so far, summed over its CPUs (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq
    return busy / CLOCK_TICKS, steal / CLOCK_TICKS, (busy + idle + iowait + steal) / CLOCK_TICKS


def wait_for_quiet(ours: list[int], max_wait_s: float, threshold: float = 0.25, window_s: float = 1.0) -> float:
    """Waits (at most `max_wait_s`) until the rest of the machine uses under `threshold` of one CPU
    over a `window_s` window, so a measurement does not start in the middle of someone else's burst
    on a shared machine. Answers the seconds waited."""
    started = time.monotonic()
    for _ in range(int(max_wait_s / window_s) + 1):
        busy0, ours0, t0 = machine_cpu()[0], sum(cpu_seconds(p) or 0.0 for p in ours), time.monotonic()
        time.sleep(window_s)
        busy1, ours1 = machine_cpu()[0], sum(cpu_seconds(p) or 0.0 for p in ours)
        others = (busy1 - busy0 - (ours1 - ours0)) / (time.monotonic() - t0)
        if others < threshold or time.monotonic() - started >= max_wait_s:
            break
    return time.monotonic() - started


def raise_nofile(wanted: int = 65536) -> int:
    """Raises this process's open-file limit as far as allowed (children inherit it); answers the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        ceiling = int(Path("/proc/sys/fs/nr_open").read_text())
    except (OSError, ValueError):
        ceiling = hard
    target = max(soft, min(wanted, ceiling))
    try:
        # Raising the hard limit needs CAP_SYS_RESOURCE; without it, go up to the hard limit.
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, max(hard, target)))
    except (ValueError, OSError):
        target = max(soft, min(wanted, hard))
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass
class Usage:
    """CPU and memory of a group of processes over one measured window."""

    cpu_s: float
    wall_s: float
    rss_start_kib: int
    rss_end_kib: int
    rss_peak_kib: int

    def as_dict(self) -> dict:
        return {"cpu_s": round(self.cpu_s, 3), "wall_s": round(self.wall_s, 3),
                "cpu_util": round(self.cpu_s / self.wall_s, 3) if self.wall_s > 0 else None,
                "rss_start_mib": round(self.rss_start_kib / 1024, 1),
                "rss_end_mib": round(self.rss_end_kib / 1024, 1),
                "rss_peak_mib": round(self.rss_peak_kib / 1024, 1)}


@dataclass
class Sampler:
    """Samples the summed RSS of `pids` every `interval_s` in a thread, between start() and stop()."""

    pids: list[int]
    interval_s: float = 0.25
    _cpu0: float = 0.0
    _t0: float = 0.0
    _rss0: int = 0
    _peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) or 0.0 for pid in self.pids)

    def rss(self) -> int:
        return sum(rss_kib(pid) or 0 for pid in self.pids)

    def start(self) -> "Sampler":
        self._cpu0, self._t0 = self.cpu(), time.monotonic()
        self._rss0 = self._peak = self.rss()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="proc-sampler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._peak = max(self._peak, self.rss())

    def stop(self) -> Usage:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        rss = self.rss()
        return Usage(cpu_s=self.cpu() - self._cpu0, wall_s=time.monotonic() - self._t0,
                     rss_start_kib=self._rss0, rss_end_kib=rss, rss_peak_kib=max(self._peak, rss))
