"""Files are reported stored only after they were synced under a temporary name, renamed, and their
directory synced (issue 20, item 2): the order of os.fsync and os.replace, recorded in process."""

from __future__ import annotations

import io
import os
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from recordings.live.streams import archive_hook
from recordings.storage import LocalStorage
from recordings.storage.durable import write_file
from rooms.webinars.models import WebinarState


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Every fsync (with the path of the file or directory synced and its size then) and every replace."""
    events: list[tuple] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        real_fsync(fd)
        path = os.readlink(f"/proc/self/fd/{fd}")
        events.append(("fsync", path, os.fstat(fd).st_size))

    def replace(source, target) -> None:
        real_replace(source, target)
        events.append(("replace", str(source), str(target)))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


def test_a_stored_object_is_synced_renamed_and_its_directory_synced_before_put_returns(tmp_path: Path,
                                                                                        disk: list[tuple]) -> None:
    storage = LocalStorage(tmp_path / "media")
    disk.clear()
    data = b"x" * 300_000
    info = storage.put_stream("uploads/abc123", io.BytesIO(data))
    disk.append(("returned", info.key))

    target = str(tmp_path / "media" / "uploads" / "abc123")
    replaced = next(i for i, e in enumerate(disk) if e[0] == "replace" and e[2] == target)
    temporary = disk[replaced][1]
    assert Path(temporary).parent == Path(target).parent and Path(temporary).name.startswith(".part-")
    synced = [i for i, e in enumerate(disk) if e[:2] == ("fsync", temporary)]
    assert synced and synced[0] < replaced and disk[synced[0]][2] == len(data)   # the whole content, then renamed
    directory_synced = [i for i, e in enumerate(disk) if e[:2] == ("fsync", str(Path(target).parent))]
    assert any(replaced < i for i in directory_synced)
    assert disk[-1] == ("returned", "uploads/abc123") and max(directory_synced) < len(disk) - 1
    # The new directory "uploads" itself was synced into its parent when it was made.
    assert ("fsync", str(tmp_path / "media")) in [e[:2] for e in disk[:replaced]]
    assert Path(target).read_bytes() == data and not list(Path(target).parent.glob(".part-*"))


def test_a_failed_write_leaves_neither_a_temporary_file_nor_a_half_object(tmp_path: Path) -> None:
    class Broken(io.RawIOBase):
        def readinto(self, buffer) -> int:
            raise OSError("the upload was cut off")

    write_file(tmp_path / "kept", b"old")
    with pytest.raises(OSError):
        write_file(tmp_path / "kept", Broken())
    assert (tmp_path / "kept").read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["kept"]


async def test_a_live_stream_is_on_disk_before_the_archive_is_told_it_has_it(tmp_path: Path,
                                                                              disk: list[tuple]) -> None:
    live = tmp_path / "live" / "7"
    for name in ("master.m3u8", "video/index.m3u8", "video/init.mp4", "video/seg-00001.m4s", "audio/index.m3u8"):
        (live / name).parent.mkdir(parents=True, exist_ok=True)
        (live / name).write_bytes(b"segment data")
    webinar = SimpleNamespace(state=WebinarState.ENDED)

    async def get(webinar_id: int):
        return webinar

    async def live_finished(webinar_id: int, directory: Path, started_at: datetime) -> None:
        disk.append(("handed over", str(directory)))

    services = SimpleNamespace(webinars=SimpleNamespace(sessions=SimpleNamespace(store=SimpleNamespace(get=get))),
                               recordings=SimpleNamespace(live_finished=live_finished))
    assert await archive_hook(services)(7, live, datetime.now(timezone.utc))

    handed = disk.index(("handed over", str(live)))
    synced = {e[1] for e in disk[:handed] if e[0] == "fsync"}
    every = {str(p) for p in live.rglob("*")} | {str(live)}
    assert every <= synced, f"not synced before the hand-over: {sorted(every - synced)}"
