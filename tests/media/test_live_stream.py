"""The live packager: real VP8 and Opus packets in (as a webinar's media session hands them on), HLS out.

The stream is produced once per test process (tests/support/live_media.py, about 6 s in real
time) and read here as a player or the archive would read it: playlists, files, decoded media.
"""

from __future__ import annotations

import array
import os
import re
import signal
import time
from pathlib import Path

import av
import pytest

from recordings.live.packager import LivePackager
from recordings.live.settings import LiveSettings
from tests.support.live_media import SECOND_SPEAKER, opus_packets, play, recorded_stream, vp8_packets
from tests.support.netns import run_scenario


@pytest.fixture(scope="module")
def recording():
    return recorded_stream()


def media_playlist(path: Path) -> tuple[int, list[tuple[float, str]], str]:
    text = path.read_text()
    target = int(re.search(r"#EXT-X-TARGETDURATION:(\d+)", text).group(1))
    entries = [(float(d), name) for d, name in re.findall(r"#EXTINF:([\d.]+),\n(\S+)", text)]
    return target, entries, text


def loudness(samples: list[float]) -> float:
    return (sum(s * s for s in samples) / max(1, len(samples))) ** 0.5


def wait_for(condition, what: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"no {what} after {timeout_s} s"
        time.sleep(0.05)


def decoded(path: Path) -> dict:
    """What a player would get: streams, duration, picture brightness and sound level over time."""
    with av.open(str(path)) as container:
        kinds = sorted(s.type for s in container.streams)
        video = next((s for s in container.streams if s.type == "video"), None)
        size = (video.codec_context.width, video.codec_context.height) if video else None
        audio_levels: dict[int, list[float]] = {}
        lumas: list[int] = []
        last = 0.0
        for frame in container.decode(*container.streams):
            last = max(last, float(frame.time) + (frame.samples / frame.sample_rate
                                                   if isinstance(frame, av.AudioFrame) else 0.0))
            if isinstance(frame, av.AudioFrame):
                values = array.array("f", bytes(frame.planes[0])[: frame.samples * 4])
                audio_levels.setdefault(int(frame.time), []).extend(values)
            else:
                plane = frame.planes[0]
                lumas.append(bytes(plane)[plane.line_size * (frame.height // 2) + frame.width // 2])
    return {"kinds": kinds, "size": size, "duration": last, "lumas": lumas,
            "levels": {second: loudness(values) for second, values in audio_levels.items()}}


def test_segments_appear_while_the_host_publishes(recording):
    assert recording.exit_status == 0
    assert recording.segments_while_flowing["video"], "no video segment while packets were flowing"
    assert recording.segments_while_flowing["audio"], "no audio segment while packets were flowing"
    assert recording.dropped_video == 0 and recording.dropped_audio == 0


def test_the_playlists_follow_the_contract(recording):
    master = (recording.directory / "master.m3u8").read_text()
    assert master.startswith("#EXTM3U\n")
    variants = re.findall(r"#EXT-X-STREAM-INF:(.*)\n(\S+)", master)
    assert [uri for _, uri in variants] == ["video/index.m3u8", "audio/index.m3u8"]
    assert 'CODECS="avc1.' in variants[0][0] and "RESOLUTION=640x360" in variants[0][0]
    assert 'CODECS="mp4a.40.2"' in variants[1][0]
    for rendition in ("video", "audio"):
        target, entries, text = media_playlist(recording.directory / rendition / "index.m3u8")
        assert '#EXT-X-MAP:URI="init.mp4"' in text and text.rstrip().endswith("#EXT-X-ENDLIST")
        assert (recording.directory / rendition / "init.mp4").stat().st_size > 0
        assert [name for _, name in entries] == [f"seg-{n:05d}.m4s" for n in range(len(entries))]
        for duration, name in entries:
            assert round(duration) <= target   # RFC 8216 4.3.3.1
            assert (recording.directory / rendition / name).stat().st_size > 0
        # Regular segments: a keyframe every 2 s exactly, so all but the last are 2 s long.
        assert all(abs(duration - 2.0) < 0.05 for duration, _ in entries[:-1]), entries
        assert abs(sum(d for d, _ in entries) - recording.seconds) <= 1.0
        assert not list((recording.directory / rendition).glob("*.tmp"))


def test_the_video_rendition_decodes_with_picture_and_sound(recording):
    got = decoded(recording.directory / "video" / "index.m3u8")
    assert got["kinds"] == ["audio", "video"] and got["size"] == (640, 360)
    assert abs(got["duration"] - recording.seconds) <= 1.0
    # The synthetic camera changes brightness every frame; black (16) only before its first keyframe.
    assert len(set(got["lumas"])) > 20
    assert got["levels"][1] > 0.1


def test_the_audio_rendition_is_audio_only_and_mixes_every_speaker(recording):
    got = decoded(recording.directory / "audio" / "index.m3u8")
    assert got["kinds"] == ["audio"]
    assert abs(got["duration"] - recording.seconds) <= 1.0
    alone, together = got["levels"][1], got["levels"][int(sum(SECOND_SPEAKER) / 2)]
    assert alone > 0.1
    assert together > alone * 1.2, got["levels"]   # the second publisher's tone is in the mix
    assert got["levels"][SECOND_SPEAKER[1] + 0] < together   # and gone once they left


def test_a_stalled_worker_loses_video_never_audio(tmp_path):
    """The tap never blocks: with the worker stopped, video beyond the backlog is dropped (until a keyframe),
    audio is queued; once the worker runs again the whole audio timeline is there."""
    packets = vp8_packets(2.5, 1) + opus_packets(2.5, 1)
    settings = LiveSettings(video_backlog_bytes=20_000, pipe_bytes=4096)
    packager = LivePackager(9, tmp_path / "live" / "9", settings)
    play(packager, [p for p in packets if p.at < 0.3])   # the first packet starts the worker
    wait_for(lambda: packager.started, "the worker")
    os.kill(packager.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        play(packager, [p for p in packets if p.at >= 0.3], offset_s=0.3)
        assert time.monotonic() - started < 3.5, "on_packet blocked"
        assert packager.dropped_video > 0 and packager.dropped_audio == 0
    finally:
        os.kill(packager.process.pid, signal.SIGCONT)
    packager.close()
    assert packager.wait(30) == 0
    got = decoded(tmp_path / "live" / "9" / "audio" / "index.m3u8")
    # 2.5 s of tone from the stream's start: every second has it, no hole where the worker was stopped.
    assert all(got["levels"][second] > 0.1 for second in (0, 1, 2)), got["levels"]


def test_a_webinar_published_over_webrtc_becomes_a_stream_that_ends_with_it():
    """End to end, in the loopback-only namespace: aiortc host → media session → tap → worker → HTTP."""
    result = run_scenario("tests.media.scenario_live_stream")
    during = result["during"]
    # While the host publishes, segments are listed and served, and the playlist is live.
    assert during["playlist_status"] == 200 and during["segments_listed"] >= 2
    assert during["audio_segments_listed"] >= 2
    assert during["ended_while_publishing"] is False and during["playlist_cache"] == "public, max-age=1"
    assert during["segment_status"] == 200 and during["segment_bytes"] > 1000
    # Ended with the webinar; both renditions decode, with the host's picture and tone in them.
    video, audio = result["video"], result["audio"]
    assert video["kinds"] == ["audio", "video"] and audio["kinds"] == ["audio"]
    for rendition in (video, audio):
        assert abs(rendition["duration"] - result["published_s"]) <= 1.5, result
        assert rendition["loud_audio_frames"] > 100   # about 4 s of the tone at least (47 frames a second)
    assert video["distinct_lumas"] > 20
    # The finished stream went to the archive: the host sees a recording of the webinar.
    assert result["archived"] is not None and result["archived"]["title"] == "Media check"
    # After the session the archive job made the downloads (issue 7): the web video and the audio-only
    # file decode, each as long as the host published (±1 s), the audio-only one without a picture.
    archive = result["archive"]
    assert archive["video"]["kinds"] == ["audio", "video"] and archive["audio"]["kinds"] == ["audio"]
    for rendition in archive.values():
        assert abs(rendition["duration"] - result["published_s"]) <= 1.0, result
        assert rendition["loud_audio_frames"] > 50
    assert archive["video"]["distinct_lumas"] > 20


def test_a_crashed_worker_is_replaced_and_the_stream_goes_on(tmp_path):
    packets = vp8_packets(4.0, 1) + opus_packets(4.0, 1)
    directory = tmp_path / "live" / "10"
    packager = LivePackager(10, directory, LiveSettings())
    play(packager, [p for p in packets if p.at < 3.0])   # the first segment is out by now
    first = packager.process.pid
    assert media_playlist(directory / "audio" / "index.m3u8")[1], "no segment before the crash"
    os.kill(first, signal.SIGKILL)   # as a decoder crash on a hostile packet would
    play(packager, [p for p in packets if p.at >= 3.0], offset_s=3.0)
    packager.close()
    assert packager.wait(30) == 0
    assert packager.restarts == 1 and packager.process.pid != first
    # A server restarting mid-webinar continues the stream, which keeps its first start time.
    again = LivePackager(10, directory, LiveSettings())
    play(again, packets[:3])
    again.close()
    assert again.wait(30) == 0 and again.started_at == packager.started_at
    for rendition in ("video", "audio"):
        _, entries, text = media_playlist(directory / rendition / "index.m3u8")
        # What the first worker wrote, then what the second did, in one playlist.
        assert text.rstrip().endswith("#EXT-X-ENDLIST") and text.count("#EXT-X-DISCONTINUITY") >= 1
        assert len(entries) >= 2 and sum(duration for duration, _ in entries) > 2.5
    got = decoded(directory / "audio" / "index.m3u8")
    assert all(level > 0.1 for level in got["levels"].values()), got["levels"]


def test_one_process_writes_a_webinar_stream_at_a_time(tmp_path):
    """A second process with a media session for the same webinar waits for the writer lock a while, then stands by."""
    directory = tmp_path / "live" / "11"
    packets = opus_packets(1.0, 1)
    writer = LivePackager(11, directory, LiveSettings())
    other = LivePackager(11, directory, LiveSettings(claim_wait_s=0.5))
    play(writer, packets[:10])
    wait_for(lambda: writer.started, "worker")
    play(other, packets[:10])
    wait_for(lambda: other.closed, "stand-by")
    assert not other.started and other.wait(5) == 0
    play(writer, packets[10:], offset_s=packets[10].at)
    writer.close()
    assert writer.wait(30) == 0 and writer.restarts == 0
    assert (directory / "audio" / "index.m3u8").read_text().rstrip().endswith("#EXT-X-ENDLIST")
    never = LivePackager(12, tmp_path / "live" / "12", LiveSettings())
    never.close()   # nobody published: no worker, no files
    assert never.wait(5) == 0 and not never.started and not (tmp_path / "live" / "12").exists()
