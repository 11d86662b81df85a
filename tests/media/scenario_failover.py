"""Scenario (in the loopback namespace): two server processes on private Postgres and Redis; the host publishes through
process A (which takes the webinar's media), two viewers' sockets are on process B (relayed to A); A is killed
(SIGKILL); everyone carries on through B by themselves. Prints what each side saw, the HTTP stream's segments
before and after, and the durations PyAV reads from the archived recording."""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

from recordings.media.ice import restrict_host_addresses
from tests.conftest import shared_env
from tests.media.peers import SyntheticVideo, live_webinar, per_second, until
from tests.media.roaming import RoamingPeer
from tests.media.scenario_live_stream import Tone, archived_files, archived_recording, decoded
from tests.support.client import Api
from tests.support.services import PostgresInstance, RedisInstance, ServerProcess

BEFORE_S = 3
AFTER_S = 4


async def metric(url: str, name: str) -> float:
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        text = (await http.get("/metrics")).text
    return sum(float(value) for value in re.findall(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M))


def segments(live: Path) -> list[str]:
    playlist = live / "video" / "index.m3u8"
    return re.findall(r"^seg-\d+\.m4s$", playlist.read_text(), re.M) if playlist.exists() else []


async def main() -> dict:
    restrict_host_addresses(["127.0.0.1"])
    postgres, redis = PostgresInstance(), RedisInstance()
    postgres.start()
    redis.start()
    data_dir = Path(tempfile.mkdtemp(prefix="convene-failover-"))
    a, b = [ServerProcess(env=shared_env(postgres, redis, data_dir, MEDIA_HOST_ADDRESSES="127.0.0.1"))
            for _ in range(2)]
    peers: list[RoamingPeer] = []
    try:
        a.start()
        b.start()
        host, webinar, people = await live_webinar(a, 2)
        wid = webinar["id"]
        live = data_dir / "live" / str(wid)
        urls = [a.ws_url, b.ws_url]
        publisher = RoamingPeer("host", host, urls, wid, tracks=lambda: [SyntheticVideo(), Tone()], views=False)
        publisher.start(server=0)
        peers.append(publisher)
        await until(lambda: publisher.published_at, "the host to publish through A")
        viewers = [RoamingPeer(f"viewer{n}", person, urls, wid) for n, person in enumerate(people)]
        for viewer in viewers:
            viewer.start(server=1)   # their sockets are on B, which does not own the media
            peers.append(viewer)
        await until(lambda: all(v.received.video_frames and v.received.audio_frames for v in viewers),
                    "the viewers' first frames through B", 30)
        start = time.monotonic()
        await asyncio.sleep(BEFORE_S)
        database = await asyncpg.connect(postgres.url)
        try:
            owner_before = await database.fetchval("SELECT owner FROM media_leases WHERE webinar_id = $1", wid)
        finally:
            await database.close()
        await until(lambda: len(segments(live)) >= 2, "two segments of the HTTP stream", 20)
        before = {
            "owner_is_a": f":{a.pid}:" in owner_before,
            "viewers_on_b": all(v.connected_to == [b.ws_url] for v in viewers),
            "video_per_second": [per_second(v.received.video_times, start, BEFORE_S) for v in viewers],
            "audio_per_second": [per_second(v.received.audio_times, start, BEFORE_S) for v in viewers],
            "b_relayed": await metric(b.url, "convene_media_relay_requests_total"),
            "b_sessions": await metric(b.url, "convene_media_sessions_owned"),
            "segments": len(segments(live)),
        }

        killed = time.monotonic()
        a.kill()
        await until(lambda: all(v.resumed_after(killed) for v in viewers) and publisher.published_at[-1] > killed,
                    "media again after the owner died", 30)
        resumed = {
            "viewers_s": [round(v.resumed_after(killed) - killed, 2) for v in viewers],
            "republished_s": round(publisher.published_at[-1] - killed, 2),
            "viewers_told_moved": [len(v.moved_at) for v in viewers],
            "publisher_servers": publisher.connected_to,
        }
        start = time.monotonic()
        await asyncio.sleep(AFTER_S)
        await until(lambda: len(segments(live)) > before["segments"] + 1, "new segments after the outage", 20)
        async with httpx.AsyncClient(base_url=b.url, timeout=10) as anyone:
            playlist = (await anyone.get(f"/webinars/{wid}/live/video/index.m3u8")).text
        after = {
            "video_per_second": [per_second(v.received.video_times, start, AFTER_S) for v in viewers],
            "audio_per_second": [per_second(v.received.audio_times, start, AFTER_S) for v in viewers],
            "segments_listed": len(re.findall(r"^seg-\d+\.m4s$", playlist, re.M)),
            "discontinuities": playlist.count("#EXT-X-DISCONTINUITY"),
            "b_sessions": await metric(b.url, "convene_media_sessions_owned"),
            "b_taken_over": await metric(b.url, "convene_media_leases_taken_over_total"),
        }

        host_b = Api(b.url, host.token, host.member)
        ended = time.monotonic()
        assert (await host_b.http.post(f"/api/webinars/{wid}/end")).status_code == 200
        for peer in peers:
            await peer.stop()
        peers.clear()
        archived = await archived_recording(host_b.http, wid, 30)
        assert archived is not None, "the stream was not handed to the archive"
        files = await archived_files(host_b.http, archived["id"], data_dir / "downloads")
        first_part = killed - publisher.published_at[0]
        second_part = ended - publisher.published_at[-1]
        return {"before": before, "resumed": resumed, "after": after,
                "recording": {"expected_s": round(first_part + second_part, 2),
                              "outage_s": round(publisher.published_at[-1] - killed, 2),
                              "wall_s": round(ended - publisher.published_at[0], 2),
                              "files": {kind: decoded(path) for kind, path in files.items()}}}
    finally:
        for peer in peers:
            await peer.stop()
        for server in (a, b):
            server.stop()
        print("--- A ---\n" + a.log_tail(40) + "\n--- B ---\n" + b.log_tail(40), flush=True)
        redis.cleanup()
        postgres.cleanup()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
