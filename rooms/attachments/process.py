"""Re-encodes an image or remuxes audio in a child process, so a decoder crash or a pathological file
cannot take the server down, block its event loop or hold its memory.

Parent: `await process_in_child(...)`. Child: `python -m rooms.attachments.process <json spec>`, which
prints one JSON line: {"ok": {...}} or {"refused": message, "too_large": bool}.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from rooms.attachments.sniffing import BY_CONTENT_TYPE, FileType, Kind
from rooms.errors import TooLarge, UnsupportedMedia

FILE_NAME, PREVIEW_NAME = "file", "preview"
REPO_ROOT = Path(__file__).resolve().parents[2]


async def process_in_child(source: Path, file_type: FileType, work: Path, *, max_pixels: int, max_side: int,
                           preview_side: int, timeout_s: float) -> dict:
    """Writes `work/file` (and `work/preview` for images); answers what the child measured.
    Raises UnsupportedMedia (or TooLarge for huge images) when the content is not what it claims."""
    spec = json.dumps({"source": str(source.resolve()), "content_type": file_type.content_type,
                       "work": str(work.resolve()),
                       "max_pixels": max_pixels, "max_side": max_side, "preview_side": preview_side})
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rooms.attachments.process", spec,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL, cwd=REPO_ROOT)
    try:
        out, err = await asyncio.wait_for(child.communicate(), timeout_s)
    except (asyncio.TimeoutError, asyncio.CancelledError) as stop:
        child.kill()
        await child.wait()
        if isinstance(stop, asyncio.CancelledError):
            raise
        raise UnsupportedMedia("the file took too long to read") from None
    lines = out.decode(errors="replace").strip().splitlines()
    answer = json.loads(lines[-1]) if child.returncode == 0 and lines else None
    if answer is None:
        raise UnsupportedMedia("the file could not be read") from RuntimeError(err.decode(errors="replace")[-2000:])
    if "refused" in answer:
        raise (TooLarge if answer.get("too_large") else UnsupportedMedia)(answer["refused"])
    return answer["ok"]


def _run(spec: dict) -> dict:
    file_type = BY_CONTENT_TYPE[spec["content_type"]]
    source, work = Path(spec["source"]), Path(spec["work"])
    if file_type.kind is Kind.IMAGE:
        from rooms.attachments.images import ImageRefused, Limits, reencode
        try:
            return {"ok": reencode(source, file_type, work / FILE_NAME, work / PREVIEW_NAME,
                                   Limits(spec["max_pixels"], spec["max_side"], spec["preview_side"]))}
        except ImageRefused as refused:
            return {"refused": str(refused), "too_large": refused.too_large}
    from rooms.attachments.audio import AudioRefused, remux
    try:
        return {"ok": remux(source, file_type, work / FILE_NAME)}
    except AudioRefused as refused:
        return {"refused": str(refused)}


if __name__ == "__main__":
    print(json.dumps(_run(json.loads(sys.argv[1]))))
