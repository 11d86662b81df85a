"""Media playlists as served: delta updates (HLS `_HLS_skip=YES`), so a player's polls stay small all webinar long.

The packager's playlists keep every segment (they are the recording), so they grow: about
115 KB after two hours. A player that already has the start asks for a delta update and
gets only the last CAN-SKIP-UNTIL seconds, the older segments replaced by one
`#EXT-X-SKIP:SKIPPED-SEGMENTS=n` line (RFC 8216bis, 4.4.3.8 and 6.2.5.1).
"""

from __future__ import annotations

import re

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
