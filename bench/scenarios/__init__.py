"""The scenarios of issue 9, by name, in the order `python -m bench` runs them."""

from __future__ import annotations

from typing import Callable

from bench.scenarios import (capacity, chat, connect, history, live_stream, live_viewers, media, saturation,
                             send_path, webrtc_ceiling)
from bench.scenarios.common import RunOptions
from bench.sizes import Sizes

Scenario = Callable[[Sizes, RunOptions], dict]

SCENARIOS: dict[str, Scenario] = {
    "webinar-chat": chat.webinar_chat,
    "many-rooms": chat.many_rooms,
    "capacity": capacity.run,
    "saturation": saturation.run,
    "scale-out": saturation.scale_out,
    "send-path": send_path.run,
    "postgres-latency": send_path.postgres_latency,
    "history": history.run,
    "media": media.run,
    "live-stream": live_stream.run,
    "webrtc-ceiling": webrtc_ceiling.run,
    "live-viewers": live_viewers.run,
    "connect": connect.connect,
    "reconnect-storm": connect.reconnect_storm,
}

# Run only when named with --only, never as part of the default set: the media scenarios need root
# (a loopback-only network namespace); as root they are part of every run.
SKIPPED_BY_DEFAULT = {**({} if media.can_run() else {"media": media.REASON}),
                      **({} if webrtc_ceiling.can_run() else {"webrtc-ceiling": webrtc_ceiling.REASON})}
