"""How big each scenario is: the full sizes of issues 9 and 18, and the quick ones of `make bench`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    mode: str

    # Webinar chat: one room, everyone subscribed, a few people talking.
    webinar_members: int = 1000
    webinar_senders: int = 5
    webinar_rate: float = 2.0             # messages per second per sender
    webinar_duration_s: float = 60.0

    # Many rooms: small rooms, everyone talking a little.
    many_rooms: int = 200
    many_members: int = 10
    many_rate: float = 0.2
    many_duration_s: float = 60.0

    # Capacity: idle subscribed sockets, ramped in steps up to a ceiling.
    capacity_max: int = 18_000           # the container's hard open-file limit is 20,000 per process
    capacity_step: int = 2_000
    capacity_members: int = 200           # sockets share these members' tokens
    capacity_workers: int = 2

    # Saturation: one room, senders step the offered load up until latency or loss gives.
    saturation_members: int = 200
    saturation_senders: int = 10
    saturation_start_rate: float = 10.0   # messages per second, all senders together
    saturation_growth: float = 1.4
    saturation_steps: int = 16            # climbing steps at most
    saturation_refine: int = 3            # bisecting steps after the first failure
    attempts: int = 3                     # tries of a failing step before believing it (shared machine)
    saturation_step_s: float = 10.0

    # Scale-out: the saturation search on Postgres + Redis, one process against two.
    scaleout_members: int = 200
    scaleout_senders: int = 10
    scaleout_start_rate: float = 10.0
    scaleout_growth: float = 1.4
    scaleout_steps: int = 14
    scaleout_refine: int = 3
    scaleout_step_s: float = 10.0
    # ... and over many two-member rooms (conversations): each message is a commit and a publish for
    # two deliveries, so the servers' work outweighs the load generator's.
    scaleout_rooms: int = 100
    scaleout_rooms_start_rate: float = 100.0
    scaleout_one_room: bool = True        # also the one-room search (the quick run leaves it to saturation)

    # The send path (issue 18 item 1, issue 20): the many-rooms layout (everyone talking) at a fixed load
    # well under saturation, on each backend and the baseline; then the search over the same layout,
    # embedded with SQLITE_SYNCHRONOUS=full and =normal.
    sendpath_rate: float = 200.0          # messages per second, all senders together
    sendpath_duration_s: float = 30.0
    # Postgres + Redis latency (issue 18 item 2): the many-rooms layout on two processes, then the
    # search over it with one process and two.
    pglatency_rate: float = 400.0         # messages per second, all senders together
    pglatency_duration_s: float = 60.0
    # Where the searches over the many-rooms layout start (messages per second); they climb with the
    # scale-out search's growth, steps, bisections and step length.
    many_search_start_rate: float = 100.0

    # History: page fetches in a room holding this many messages in Postgres.
    history_messages: int = 1_000_000
    history_fetches: int = 2_000
    history_concurrency: int = 8

    # The live HTTP stream: viewers polling playlists and fetching segments (or parts), per phase.
    live_viewers: int = 1000
    live_viewers_s: float = 60.0

    # Connecting (issue 18): sockets that connect, read hello and subscribe; and a reconnect storm.
    connect_sockets: int = 10_000
    storm_sockets: int = 10_000
    storm_rate: float = 1.0               # messages per second per room's sender while the storm runs
    storm_duration_s: float = 20.0

    body_chars: int = 100
    # Pass marks for one saturation step.
    p99_limit_ms: float = 200.0
    keep_up_ratio: float = 0.9            # delivered at least this share of the offered deliveries/s


FULL = Sizes(mode="full")

QUICK = Sizes(
    mode="quick",
    webinar_members=200, webinar_duration_s=6.0,
    many_rooms=20, many_members=10, many_rate=0.5, many_duration_s=6.0,
    capacity_max=1_000, capacity_step=500, capacity_members=50, capacity_workers=1,
    saturation_members=100, saturation_start_rate=80.0, saturation_growth=2.0, saturation_steps=6,
    saturation_refine=2, saturation_step_s=3.0, attempts=1,
    scaleout_members=100, scaleout_start_rate=40.0, scaleout_growth=2.0, scaleout_steps=6, scaleout_refine=2,
    scaleout_step_s=3.0, scaleout_rooms=50, scaleout_rooms_start_rate=200.0, scaleout_one_room=False,
    sendpath_rate=40.0, sendpath_duration_s=5.0, pglatency_rate=40.0, pglatency_duration_s=5.0,
    many_search_start_rate=200.0,
    history_messages=100_000, history_fetches=200, history_concurrency=4,
    live_viewers=50, live_viewers_s=6.0,
    connect_sockets=1_000, storm_sockets=1_000, storm_duration_s=8.0,
)
