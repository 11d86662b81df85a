"""Probes an untrusted upload in a child process, so a decoder crash on hostile input cannot take the
server down with it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

PROBE_TIMEOUT_S = 30.0


async def probe_in_child(path: Path) -> bool:
    """True when FFmpeg finds and decodes audio or video in the file (its content decides, not its name)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "recordings.archive.process", "--probe", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, stdin=asyncio.subprocess.DEVNULL)
    try:
        out, _ = await asyncio.wait_for(child.communicate(), PROBE_TIMEOUT_S)
    except asyncio.TimeoutError:
        child.kill()
        await child.wait()
        return False   # a file that takes this long to probe is refused like one that is not media
    except asyncio.CancelledError:
        child.kill()
        await child.wait()
        raise
    return child.returncode == 0 and out.strip() == b"media"
