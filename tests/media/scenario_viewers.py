"""Scenario (in the loopback namespace): a host publishes synthetic video and audio; three viewers and one audio-only viewer watch."""

from __future__ import annotations

import asyncio
import json
import time

from aiortc.mediastreams import AudioStreamTrack

from tests.media.peers import SyntheticVideo, live_webinar, per_second, publish, start_server, until, view

SECONDS = 4


async def main() -> dict:
    server = start_server()
    try:
        host, webinar, people = await live_webinar(server, 4)
        wid = webinar["id"]
        host_ws = await host.connect(server.ws_url)
        publisher = await publish(host_ws, wid, [SyntheticVideo(), AudioStreamTrack()])
        clients = [await p.connect(server.ws_url) for p in people]
        listed = await clients[0].request({"type": "media.watch", "webinar": wid})
        viewers = [await view(c, wid, host.id) for c in clients[:3]]
        audio_pc, audio_only = await view(clients[3], wid, host.id, audio_only=True)
        await until(lambda: all(got.video_frames and got.audio_frames for _, got in viewers)
                    and audio_only.audio_frames, "every viewer's first frames")
        start = time.monotonic()
        await asyncio.sleep(SECONDS)
        result = {
            "publishers": listed["publishers"],
            "host": host.id,
            "viewers": [{"kinds": sorted(got.kinds), "sizes": sorted(got.sizes),
                         "video_per_second": per_second(got.video_times, start, SECONDS),
                         "audio_per_second": per_second(got.audio_times, start, SECONDS)} for _, got in viewers],
            "audio_only": {"kinds": sorted(audio_only.kinds), "video_frames": audio_only.video_frames,
                           "audio_per_second": per_second(audio_only.audio_times, start, SECONDS)},
        }
        for pc, _ in viewers:
            await pc.close()
        await audio_pc.close()
        await publisher.close()
        for client in (host_ws, *clients):
            await client.close()   # before the server stops: it would wait for open sockets
        return result
    finally:
        server.stop()
        print(server.log_tail(30), flush=True)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
