"""Runs a scenario module in a network namespace that has only loopback, and answers the JSON it prints.

Media tests must not be able to reach anything but this machine: `unshare -n` (we run as root)
gives the child a fresh network namespace, `ip link set lo up` brings up its loopback, and
the scenario starts its own server and peers inside it. The scenario prints one JSON object
as its last line of output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from tests.support.services import REPO_ROOT

_ENTER = 'ip link set lo up && exec "$0" -m "$@"'


def run_scenario(module: str, *args: str, timeout: float = 120.0) -> dict:
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"media tests need `{tool}` (util-linux / iproute2) to isolate the network")
    command = ["unshare", "-n", "sh", "-c", _ENTER, sys.executable, module, *args]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise AssertionError(f"scenario {module} failed (exit {proc.returncode}):\n"
                             f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-5000:]}")
    try:
        return json.loads(lines[-1])
    except ValueError:
        raise AssertionError(f"scenario {module} printed no JSON result:\n{proc.stdout[-3000:]}\n"
                             f"{proc.stderr[-3000:]}") from None
