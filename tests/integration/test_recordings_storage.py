"""The local storage adapter keeps every object under its root, whatever key it is handed."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from recordings.storage import BadKey, LocalStorage


def test_objects_round_trip_and_list_by_prefix(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "media")
    first = storage.put_stream("recordings/7/video.mp4", io.BytesIO(b"abc"))
    assert first.size == 3 and storage.open("recordings/7/video.mp4").read() == b"abc"
    second = storage.put_stream("recordings/7/video.mp4", io.BytesIO(b"abcd"))
    assert second.etag != first.etag   # a new version, a new validator
    storage.put_stream("recordings/7/hls/master.m3u8", io.BytesIO(b"#EXTM3U\n"))
    assert [o.key for o in storage.list("recordings/7")] == ["recordings/7/hls/master.m3u8",
                                                             "recordings/7/video.mp4"]
    storage.delete("recordings/7/video.mp4")
    assert storage.stat("recordings/7/video.mp4") is None and storage.local_path("recordings/7/video.mp4") is None


@pytest.mark.parametrize("key", ["../secret_key", "recordings/../../etc/passwd", "/etc/passwd", "recordings//x",
                                 "recordings/./x", "Recordings/1", "recordings/1/", "", "a\\b", "%2e%2e/x"])
def test_keys_outside_the_archive_naming_are_refused(tmp_path: Path, key: str) -> None:
    storage = LocalStorage(tmp_path / "media")
    with pytest.raises(BadKey):
        storage.stat(key)


def test_a_symlink_planted_in_the_root_does_not_lead_out(tmp_path: Path) -> None:
    (tmp_path / "outside").write_text("secret")
    storage = LocalStorage(tmp_path / "media")
    os.symlink(tmp_path / "outside", tmp_path / "media" / "escape")
    with pytest.raises(FileNotFoundError):
        storage.open("escape")
