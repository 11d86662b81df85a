"""The live stream's small parts on their own: who is the active speaker (hysteresis), and how a rendition cuts
parts and segments and continues after a restart."""

from __future__ import annotations

import array
import math
from fractions import Fraction
from pathlib import Path

from recordings.live.fmp4 import Sample, annexb_to_length_prefixed
from recordings.live.playlists import edge
from recordings.live.segments import Rendition, Track, read_segments
from recordings.live.speaker import FRAME_S, ActiveSpeaker

TONE = array.array("f", (0.25 * math.sin(2 * math.pi * 375 * n / 48_000) for n in range(1024))).tobytes()


def run(speaker: ActiveSpeaker, seconds: float, start: float, talking: dict[int, list[tuple[float, float]]],
        levels: dict[int, float] | None = None) -> list[tuple[float, int | None]]:
    """Feeds each publisher a tone inside their windows and silence outside; answers (time, speaker) per frame."""
    seen = []
    frames = int(seconds / FRAME_S)
    for index in range(frames):
        at = start + index * FRAME_S
        for publisher, windows in talking.items():
            voiced = any(begin <= at < end for begin, end in windows)
            scale = (levels or {}).get(publisher, 1.0)
            samples = array.array("f", (v * scale for v in array.array("f", TONE))).tobytes() if voiced else None
            speaker.hear(publisher, at, samples)
        seen.append((at, speaker.decide(at)))
    return seen


def first(seen: list[tuple[float, int | None]], who: int) -> float:
    return next(at for at, current in seen if current == who)


def test_the_picture_moves_after_the_hold_time_and_not_on_pauses_or_short_words():
    speaker = ActiveSpeaker(min_s=0.4, hold_s=1.2, margin_db=10)
    seen = run(speaker, 10.0, 0.0, {1: [(0.0, 3.0), (3.6, 6.0)], 2: [(3.1, 3.35), (6.0, 10.0)]})
    assert 0.35 <= first(seen, 1) <= 0.5             # the first speaker, after talking min_s
    assert all(current == 1 for at, current in seen if 0.5 <= at < 7.0)   # a 0.6 s pause and a 0.25 s word: no switch
    switched = first(seen, 2)
    assert 7.1 <= switched <= 7.5                    # quiet for the hold time (1.2 s), then it moves
    assert all(current == 2 for at, current in seen if at >= switched)
    assert speaker.switches == 1 and speaker.recent == [2, 1]


def test_someone_much_louder_takes_over_while_both_talk():
    speaker = ActiveSpeaker(min_s=0.4, hold_s=1.2, margin_db=10)
    seen = run(speaker, 4.0, 0.0, {1: [(0.0, 4.0)], 2: [(1.0, 4.0)]}, levels={1: 0.1, 2: 1.0})   # 20 dB louder
    assert 1.35 <= first(seen, 2) <= 1.8
    quiet = ActiveSpeaker(min_s=0.4, hold_s=1.2, margin_db=10)
    seen = run(quiet, 4.0, 0.0, {1: [(0.0, 4.0)], 2: [(1.0, 4.0)]}, levels={1: 1.0, 2: 1.0})   # as loud: no
    assert all(current == 1 for at, current in seen if at > 0.5)


def test_a_speaker_who_leaves_is_forgotten():
    speaker = ActiveSpeaker(min_s=0.4, hold_s=1.2, margin_db=10)
    run(speaker, 1.0, 0.0, {1: [(0.0, 1.0)]})
    speaker.left(1)
    assert speaker.current is None and speaker.recent == []


def rendition(directory: Path) -> Rendition:
    # 15 fps, parts of 5 frames, 6 parts (2 s) per segment; one video track and one audio track.
    return Rendition(directory, b"init", [Track(1, 15_360), Track(2, 48_000)], 15, 5, 6, 2, wall_zero=1_800_000_000.0)


def feed(out: Rendition, seconds: float) -> None:
    """Video frames and AAC-sized audio frames in time order, as the encoders hand them on."""
    video, audio = 0, 0
    while video < seconds * 15:
        if audio * 1024 / 48_000 <= video / 15:
            out.add(1, Fraction(audio * 1024, 48_000), audio * 1024, Sample(b"a", 1024, True))
            audio += 1
        else:
            out.add(0, Fraction(video, 15), video * 1024, Sample(b"v", 1024, video % 30 == 0))
            video += 1


def test_parts_and_segments_are_cut_on_the_stream_clock_and_a_restart_continues_the_playlist(tmp_path):
    out = rendition(tmp_path)
    feed(out, 4.5)
    live = (tmp_path / "ll.m3u8").read_text()
    at = edge(live)
    assert at.msn == 2 and 1 <= at.parts <= 2 and not at.ended
    assert live.count('INDEPENDENT=YES') == 3 and f'PRELOAD-HINT:TYPE=PART,URI="part-00002.{at.parts}.m4s"' in live
    assert "#EXTINF:2.000000,\nseg-00000.m4s" in (tmp_path / "index.m3u8").read_text()
    assert (tmp_path / "seg-00001.m4s").read_bytes() == b"".join(
        (tmp_path / f"part-00001.{n}.m4s").read_bytes() for n in range(6))
    out.close()
    assert "#EXT-X-ENDLIST" in (tmp_path / "ll.m3u8").read_text() and "PRELOAD" not in (tmp_path / "ll.m3u8").read_text()
    # A new worker (a server restart) numbers on, after a discontinuity, with the wall clock of its own start.
    again = rendition(tmp_path)
    feed(again, 2.5)
    again.close()
    segments = read_segments(tmp_path / "index.m3u8")
    assert [s.number for s in segments] == [0, 1, 2, 3, 4]
    assert [s.discontinuity for s in segments] == [False, False, False, True, False]
    assert segments[1].date == segments[0].date + 2.0


def test_annex_b_becomes_length_prefixed():
    data = b"\x00\x00\x00\x01\x67\x42\x00\x00\x01\x68\xce\x00\x00\x00\x01\x65\x88"
    assert annexb_to_length_prefixed(data) == b"\x00\x00\x00\x02\x67\x42\x00\x00\x00\x02\x68\xce\x00\x00\x00\x02\x65\x88"
