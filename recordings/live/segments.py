"""One rendition of the live stream on disk: partial segments as they are made, whole segments, and both playlists.

Every part covers the same stretch of the stream's clock in every rendition (`part_s`, a whole
number of video frames), and a segment is `parts_per_segment` parts starting at a keyframe, so
a player may switch renditions, or from parts to segments, at any boundary. Files:

- `part-SSSSS.P.m4s`: part P of segment S (moof + mdat), written the moment it is complete;
  deleted once it has left the low-latency playlist (the segment holds the same bytes);
- `seg-SSSSS.m4s`: the segment, its parts one after the other;
- `index.m3u8`: every segment (`EVENT`): the recording, and what standard players poll;
- `ll.m3u8`: low-latency HLS: the last segments, the parts of the recent ones, a preload hint
  for the next part and the server's blocking-reload promise (RFC 8216bis, 4.4.3.7-4.4.5.2).

A worker that restarts mid-webinar continues the numbering after an `#EXT-X-DISCONTINUITY`.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path

from recordings.live.fmp4 import Run, Sample, fragment
from recordings.storage.durable import write_file

PLAYLIST = "index.m3u8"
LL_PLAYLIST = "ll.m3u8"
LL_SEGMENTS = 6          # segments the low-latency playlist lists (12 s at 2 s segments)
PART_SEGMENTS = 3        # recent segments whose parts it lists: at least three target durations (RFC 8216bis 4.4.3.7)
KEEP_PART_SEGMENTS = 6   # parts of older segments are deleted (a CDN may still ask for a listed one briefly)
AUDIO_FRAME_S = 1024 / 48_000
_SEGMENT_LINE = re.compile(r"seg-(\d+)\.m4s")


@dataclass(frozen=True)
class Track:
    track_id: int
    timescale: int


@dataclass
class Part:
    name: str
    duration: float
    independent: bool


@dataclass
class Segment:
    number: int
    duration: float = 0.0
    discontinuity: bool = False
    date: float | None = None          # wall-clock time of its first sample (EXT-X-PROGRAM-DATE-TIME)
    parts: list[Part] = field(default_factory=list)


def part_target(part_s: float) -> float:
    """EXT-X-PART-INF:PART-TARGET: no part is longer (an audio part may end one AAC frame late)."""
    return math.ceil((part_s + AUDIO_FRAME_S) * 1000) / 1000


def _write(path: Path, data: bytes) -> None:
    """Readers (the HTTP endpoint, a CDN) never see half a file. Parts and the low-latency playlist only: they
    live seconds, so they are not synced to disk (the recording's files go through write_file)."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    temporary.replace(path)


def _date(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def read_segments(playlist: Path) -> list[Segment]:
    """The segments an earlier worker listed (with their discontinuities and dates), to continue after them."""
    segments: list[Segment] = []
    pending = Segment(0)
    for line in playlist.read_text().splitlines():
        if line.startswith("#EXT-X-DISCONTINUITY") and not line.startswith("#EXT-X-DISCONTINUITY-SEQUENCE"):
            pending.discontinuity = True
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pending.date = datetime.fromisoformat(line.split(":", 1)[1].replace("Z", "+00:00")).timestamp()
        elif line.startswith("#EXTINF:"):
            pending.duration = float(line[8:].split(",", 1)[0])
        elif (found := _SEGMENT_LINE.fullmatch(line.strip())) is not None:
            pending.number = int(found.group(1))
            if pending.date is None and segments and segments[-1].date is not None and not pending.discontinuity:
                pending.date = segments[-1].date + segments[-1].duration
            segments.append(pending)
            pending = Segment(0)
    return segments


class Rendition:
    """Takes encoded samples of its tracks in stream-time order per track; writes parts, segments, playlists."""

    def __init__(self, directory: Path, init: bytes, tracks: list[Track], fps: int, part_frames: int,
                 parts_per_segment: int, segment_s: int, wall_zero: float) -> None:
        self.directory = directory
        self.tracks = tracks
        self.part_s = Fraction(part_frames, fps)
        self.parts_per_segment = parts_per_segment
        self.segment_s = segment_s
        self.wall_zero = wall_zero                      # wall-clock time of stream time 0
        self.part_target = part_target(float(self.part_s))
        directory.mkdir(parents=True, exist_ok=True)
        self.segments = read_segments(directory / PLAYLIST) if (directory / PLAYLIST).exists() else []
        self.first_number = self.segments[-1].number + 1 if self.segments else 0
        self.discontinuity = bool(self.segments)
        write_file(directory / "init.mp4", init)
        self.pending: list[list[tuple[int, int, Sample]]] = [[] for _ in tracks]   # (part index, decode time, sample)
        self.reached = [-1] * len(tracks)               # the latest part index each track has a sample in
        self.part_index = 0                             # the part being gathered, counted from this run's start
        self.open: Segment | None = None
        self.open_data = bytearray()
        self.ended = False
        self.parts_written = 0
        self.segments_written = 0

    # Samples in, parts out.

    def add(self, track: int, at: Fraction, decode_time: int, sample: Sample) -> None:
        index = math.floor(at / self.part_s)
        self.pending[track].append((index, decode_time, sample))
        self.reached[track] = max(self.reached[track], index)
        # A part is complete once every track has moved past it.
        while min(self.reached) > self.part_index:
            self._cut()

    def close(self) -> None:
        """The end of the stream: what is gathered becomes the last part and segment; the playlists end."""
        while any(self.pending):
            self._cut()
        if self.open is not None:
            self._finish_segment()
        self.ended = True
        self._write_playlists(whole=True)

    def _cut(self) -> None:
        index = self.part_index
        self.part_index += 1   # the next part (the preload hint names it)
        runs = []
        for track, pending in zip(self.tracks, self.pending):
            taken = 0
            while taken < len(pending) and pending[taken][0] <= index:
                taken += 1
            if taken:
                runs.append(Run(track.track_id, pending[0][1], [sample for _, _, sample in pending[:taken]]))
                del pending[:taken]
        if not runs:
            return
        number = self.first_number + index // self.parts_per_segment
        if self.open is not None and self.open.number != number:
            self._finish_segment()   # the previous segment ended early (its parts were empty)
        if self.open is None:
            self.open = Segment(number, discontinuity=self.discontinuity,
                                date=self.wall_zero + float(index * self.part_s))
            self.discontinuity = False
        # The first track (video where there is one) gives the part its length and says if it starts a picture.
        track = self.tracks[0]
        main = runs[0] if runs[0].track_id == track.track_id else None
        name = f"part-{number:05d}.{index % self.parts_per_segment}.m4s"
        data = fragment(self.first_number * self.parts_per_segment + index + 1, runs)
        _write(self.directory / name, data)
        duration = sum(s.duration for s in main.samples) / track.timescale if main else float(self.part_s)
        self.open.parts.append(Part(name, duration, main is not None and main.samples[0].keyframe))
        self.open.duration += duration
        self.open_data += data
        self.parts_written += 1
        if index % self.parts_per_segment == self.parts_per_segment - 1:
            self._finish_segment()
            self._write_playlists(whole=True)
        else:
            self._write_playlists(whole=False)

    def _finish_segment(self) -> None:
        segment, self.open = self.open, None
        assert segment is not None
        write_file(self.directory / f"seg-{segment.number:05d}.m4s", bytes(self.open_data))
        self.open_data.clear()
        self.segments.append(segment)
        self.segments_written += 1
        self._forget_old_parts()

    def _forget_old_parts(self) -> None:
        if len(self.segments) > KEEP_PART_SEGMENTS:
            old = self.segments[-KEEP_PART_SEGMENTS - 1]
            for part in old.parts:
                (self.directory / part.name).unlink(missing_ok=True)
            old.parts = []

    # Playlists.

    @property
    def target_duration(self) -> int:
        longest = max((segment.duration for segment in self.segments), default=self.segment_s)
        return max(self.segment_s, round(longest))

    def _write_playlists(self, whole: bool) -> None:
        if whole:
            write_file(self.directory / PLAYLIST, self.standard_playlist().encode())
        _write(self.directory / LL_PLAYLIST, self.low_latency_playlist().encode())

    def _header(self, version: int) -> list[str]:
        return ["#EXTM3U", f"#EXT-X-VERSION:{version}", f"#EXT-X-TARGETDURATION:{self.target_duration}"]

    def standard_playlist(self) -> str:
        lines = self._header(7) + ["#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:EVENT",
                                   "#EXT-X-INDEPENDENT-SEGMENTS", '#EXT-X-MAP:URI="init.mp4"']
        previous: Segment | None = None
        for segment in self.segments:
            lines += self._segment_lines(segment, previous, parts=False)
            previous = segment
        if self.ended:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    def low_latency_playlist(self) -> str:
        listed = self.segments[-LL_SEGMENTS:]
        skipped = self.segments[: len(self.segments) - len(listed)]
        first = listed[0].number if listed else (self.open.number if self.open else self.first_number)
        hold_back = round(3 * self.part_target, 3)
        lines = self._header(9) + [
            f"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={hold_back:.3f}",
            f"#EXT-X-PART-INF:PART-TARGET={self.part_target:.3f}",
            f"#EXT-X-MEDIA-SEQUENCE:{first}"]
        discontinuities = sum(1 for segment in skipped if segment.discontinuity)
        if discontinuities:
            lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuities}")
        lines += ["#EXT-X-INDEPENDENT-SEGMENTS", '#EXT-X-MAP:URI="init.mp4"']
        with_parts = {segment.number for segment in listed[-PART_SEGMENTS:]}
        previous: Segment | None = None
        for segment in listed:
            lines += self._segment_lines(segment, previous, parts=segment.number in with_parts, first=previous is None)
            previous = segment
        if self.open is not None:
            lines += self._segment_lines(self.open, previous, parts=True, first=previous is None, whole=False)
        if self.ended:
            lines.append("#EXT-X-ENDLIST")
        else:
            lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{self._next_part()}"')
        return "\n".join(lines) + "\n"

    def _next_part(self) -> str:
        index = self.part_index
        return f"part-{self.first_number + index // self.parts_per_segment:05d}.{index % self.parts_per_segment}.m4s"

    def _segment_lines(self, segment: Segment, previous: Segment | None, *, parts: bool, first: bool = False,
                       whole: bool = True) -> list[str]:
        lines = []
        if segment.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        if segment.date is not None and (first or previous is None or segment.discontinuity):
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_date(segment.date)}")
        if parts:
            lines += [f"#EXT-X-PART:DURATION={part.duration:.5f},URI=\"{part.name}\""
                      + (",INDEPENDENT=YES" if part.independent else "") for part in segment.parts]
        if whole:
            lines += [f"#EXTINF:{segment.duration:.6f},", f"seg-{segment.number:05d}.m4s"]
        return lines


def wall_zero(t0: float) -> float:
    """The wall-clock time of CLOCK_MONOTONIC `t0` (the stream's time 0)."""
    return time.time() - (time.monotonic() - t0)
