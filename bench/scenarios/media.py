"""Media (reserved): WebRTC viewers per process, video and audio-only, and the cost of the HTTP stream.

Webinar sessions (rooms/webinars/) have landed, their media have not: there is
no WebRTC (aiortc) or stream in recordings/ yet. When there is, this
scenario will: start a webinar with one presenter publishing a synthetic video
and audio track (aiortc), ramp viewers (video, then audio-only) until frame
delivery or CPU gives, and measure the HTTP stream's cost per viewer, all with
the same Target/LoadGenerator pattern as the chat scenarios.
"""

from __future__ import annotations

from bench.scenarios.common import RunOptions
from bench.sizes import Sizes

REASON = "webinar media (WebRTC, the HTTP stream) have not landed yet; see this module's docstring for the plan"


def run(sizes: Sizes, options: RunOptions) -> dict:
    return {"skipped": REASON, "targets": []}
