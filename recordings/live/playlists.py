"""Media playlists as served: delta updates (HLS `_HLS_skip=YES`), so a player's polls stay small all webinar long;
and the live edge of a low-latency playlist, which blocking reloads wait on.

The packager's playlists keep every segment (they are the recording), so they grow: about
115 KB after two hours. A player that already has the start asks for a delta update and
gets only the last CAN-SKIP-UNTIL seconds, the older segments replaced by one
`#EXT-X-SKIP:SKIPPED-SEGMENTS=n` line (RFC 8216bis, 4.4.3.8 and 6.2.5.1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SKIP_TARGETS = 6    # the least CAN-SKIP-UNTIL the spec allows: six target durations
DELTA_VERSION = 9   # a playlist with EXT-X-SKIP declares version 9 or more
# Tags that belong to the segment after them, and are skipped with it.
SEGMENT_TAGS = ("#EXTINF:", "#EXT-X-DISCONTINUITY", "#EXT-X-PROGRAM-DATE-TIME:", "#EXT-X-BYTERANGE:", "#EXT-X-GAP")


def _target(lines: list[str]) -> int | None:
    for line in lines:
        if line.startswith("#EXT-X-TARGETDURATION:"):
            return int(line.split(":", 1)[1])
    return None


def with_server_control(text: str) -> str:
    """Says the server answers delta updates (after the target duration line)."""
    lines = text.splitlines()
    target = _target(lines)
    if target is None or any(line.startswith("#EXT-X-SERVER-CONTROL:") for line in lines):
        return text
    at = next(i for i, line in enumerate(lines) if line.startswith("#EXT-X-TARGETDURATION:"))
    lines.insert(at + 1, f"#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL={target * SKIP_TARGETS:.1f}")
    return "\n".join(lines) + "\n"


def delta(text: str) -> str:
    """The playlist with the segments older than CAN-SKIP-UNTIL from its end replaced by EXT-X-SKIP.

    Tags that belong to a skipped segment (EXTINF, DISCONTINUITY) go with it; playlist tags
    before the first segment (version, target, sequence, map) stay.
    """
    lines = with_server_control(text).splitlines()
    target = _target(lines)
    if target is None:
        return text
    header: list[str] = []
    segments: list[tuple[list[str], float]] = []   # (its lines: tags then URI, its duration)
    pending: list[str] = []
    duration = 0.0
    footer: list[str] = []
    for line in lines:
        if not line:
            continue
        if line.startswith(SEGMENT_TAGS):
            if line.startswith("#EXTINF:"):
                duration = float(line[8:].split(",", 1)[0])
            pending.append(line)
        elif line.startswith("#EXT-X-ENDLIST"):
            footer.append(line)
        elif line.startswith("#"):
            if line not in header:   # playlist tags, and the one EXT-X-MAP (the same init.mp4 throughout)
                header.append(line)
        else:
            segments.append((pending + [line], duration))
            pending, duration = [], 0.0
    keep_from, kept = len(segments), 0.0
    while keep_from > 0 and kept < target * SKIP_TARGETS:
        keep_from -= 1
        kept += segments[keep_from][1]
    if keep_from == 0:
        return "\n".join(lines) + "\n"
    header = [f"#EXT-X-VERSION:{max(DELTA_VERSION, int(line.split(':')[1]))}"
              if line.startswith("#EXT-X-VERSION:") else line for line in header]
    body = [f"#EXT-X-SKIP:SKIPPED-SEGMENTS={keep_from}"]
    for segment_lines, _ in segments[keep_from:]:
        body.extend(segment_lines)
    return "\n".join(header + body + pending + footer) + "\n"


def skipped(text: str) -> int:
    found = re.search(r"^#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)", text, re.M)
    return int(found.group(1)) if found else 0


# Low-latency playlists (ll.m3u8): where the live edge is, for blocking playlist reloads and part requests.

_PART_NAME = re.compile(r"part-(\d+)\.(\d+)\.m4s")


@dataclass(frozen=True)
class Edge:
    """The newest media a low-latency playlist lists: segment `msn` is being made and has `parts` parts so far
    (a segment just completed: the next one, with none)."""

    msn: int
    parts: int
    ended: bool
    target: int
    part_target: float

    def has(self, msn: int, part: int | None) -> bool:
        """Does the playlist list segment `msn` complete (part None), or its part `part`?"""
        if self.ended:
            return True
        if part is None:
            return msn < self.msn
        return msn < self.msn or (msn == self.msn and part < self.parts)

    @property
    def parts_per_segment(self) -> int:
        return max(1, round(self.target / self.part_target + 0.49))

    def too_far(self, msn: int, part: int | None) -> bool:
        """RFC 8216bis 6.2.5.2: more than two segments, or more than the Advance Part Limit (three seconds'
        worth of parts), past the edge is refused at once rather than held. An ended stream answers anything."""
        if self.ended:
            return False
        if msn > self.msn + 2:
            return True
        if part is None:
            return False
        limit = 3 / self.part_target if self.part_target < 1 else 3
        ahead = (msn - self.msn) * self.parts_per_segment + part - self.parts
        return ahead > limit

    @property
    def timeout_s(self) -> float:
        """How long a blocking request is held: three target durations, then 503."""
        return 3.0 * self.target


def edge(text: str) -> Edge | None:
    """The live edge of a low-latency playlist (None when it is not one)."""
    sequence = complete = parts = 0
    target, part_target = None, None
    for line in text.splitlines():
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            sequence = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            target = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-PART-INF:"):
            found = re.search(r"PART-TARGET=([\d.]+)", line)
            part_target = float(found.group(1)) if found else None
        elif line.startswith("#EXT-X-PART:"):
            parts += 1
        elif line and not line.startswith("#"):
            complete += 1
            parts = 0
    if target is None or part_target is None:
        return None
    return Edge(sequence + complete, parts, "#EXT-X-ENDLIST" in text, target, part_target)


def part_position(name: str) -> tuple[int, int] | None:
    """(segment, part) of a part's file name."""
    found = _PART_NAME.fullmatch(name)
    return (int(found.group(1)), int(found.group(2))) if found else None
