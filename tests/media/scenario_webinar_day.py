"""Scenario (in the loopback namespace): a webinar's day with aiortc peers — the green room, going live, breakout
groups and the call back.

Before the start a promoted speaker publishes in the green room: the host views them, an attendee's watch
lists nobody and viewing them is refused. The host starts the webinar: the attendee is told the speaker is
on stage and views them. The host splits four attendees into groups A and B: each member publishes and
views the other member of their group; nobody sees or may view the other group. The host calls everyone
back: the groups' publications stop and the attendees view the stage's speaker again.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone

from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from av import VideoFrame

from tests.media.peers import Received, SyntheticVideo, publish, start_server, until, view
from tests.media.scenario_capacity import metric
from tests.support.client import Api, ChatClient

SMALL = (160, 120)   # the groups' cameras: four publishers encoding in this one process


class SmallVideo(VideoStreamTrack):
    """A 160x120 picture of one shade, so each group member's video is cheap to make."""

    def __init__(self, shade: int) -> None:
        super().__init__()
        self.shade = shade

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(*SMALL, "yuv420p")
        for plane, value in zip(frame.planes, (self.shade, 128, 128)):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        return frame


def since(got: Received, at: float) -> dict:
    return {"video": sum(1 for t in got.video_times if t >= at), "audio": sum(1 for t in got.audio_times if t >= at)}


async def publishers(client: ChatClient, start: int, match=lambda f: True, timeout: float = 10) -> dict:
    return await client.wait_for(lambda f: f["type"] == "media.publishers" and match(f), timeout=timeout, start=start)


def listed(frame: dict) -> list[int]:
    return sorted(p["member"]["id"] for p in frame["publishers"])


async def main() -> dict:
    server = start_server()
    out: dict = {}
    peers = []
    try:
        host = await Api.register(server.url)
        starts = datetime.now(timezone.utc) + timedelta(minutes=10)
        response = await host.http.post("/api/webinars", json={
            "title": "Supervision skills", "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=1)).isoformat(), "visibility": "public"})
        wid = response.json()["id"]
        base = f"/api/webinars/{wid}"
        speaker, a1, a2, b1, b2 = [await Api.register(server.url) for _ in range(5)]
        for person in (speaker, a1, a2, b1, b2):
            assert (await person.http.post(base + "/register")).status_code == 200
        # Promoted before the start, so the speaker meets the host in the green room.
        assert (await host.http.post(base + "/speakers", json={"member_id": speaker.id})).status_code == 204
        host_ws, speaker_ws, a1_ws, a2_ws, b1_ws, b2_ws = [
            await p.connect(server.ws_url) for p in (host, speaker, a1, a2, b1, b2)]

        # The green room.
        host_list = await host_ws.request({"type": "media.watch", "webinar": wid})
        speaker_pc = await publish(speaker_ws, wid, [SyntheticVideo(), AudioStreamTrack()])
        peers.append(speaker_pc)
        seen_by_host = await publishers(host_ws, 0, lambda f: speaker.id in listed(f))
        host_view, host_got = await view(host_ws, wid, speaker.id)
        peers.append(host_view)
        await until(lambda: host_got.video_frames and host_got.audio_frames, "the speaker's frames in the green room")
        a1_list = await a1_ws.request({"type": "media.watch", "webinar": wid})
        refused = await a1_ws.request({"type": "media.view", "webinar": wid, "publisher": speaker.id, "sdp": "v=0"})
        out["green_room"] = {
            "host_phase": host_list["phase"], "host_sees": listed(seen_by_host),
            "attendee_phase": a1_list["phase"], "attendee_sees": listed(a1_list),
            "attendee_view": refused.get("code"), "host_frames": since(host_got, 0),
            "green_room_sessions": await metric(server.url, "convene_green_room_sessions"),
            "attendee_pushes": [listed(f) for f in a1_ws.frames if f["type"] == "media.publishers"],
        }

        # Going live: the same publication is the stage, for everyone.
        mark = len(a1_ws.frames)
        assert (await host.http.post(base + "/start")).status_code == 200
        on_stage = await publishers(a1_ws, mark, lambda f: f["phase"] == "stage")
        a1_stage, a1_got = await view(a1_ws, wid, speaker.id)
        peers.append(a1_stage)
        await until(lambda: a1_got.video_frames and a1_got.audio_frames, "the speaker's frames once live")
        await asyncio.sleep(1)
        out["live"] = {"attendee_sees": listed(on_stage), "attendee_frames": since(a1_got, time.monotonic() - 1),
                       "green_room_sessions": await metric(server.url, "convene_green_room_sessions")}

        # Breakout groups: A = a1, a2; B = b1, b2.
        for client in (a2_ws, b1_ws, b2_ws):
            await client.request({"type": "media.watch", "webinar": wid})
        marks = {c: len(c.frames) for c in (a1_ws, a2_ws, b1_ws, b2_ws)}
        opened = await host.http.post(base + "/breakouts", json={"groups": [[a1.id, a2.id], [b1.id, b2.id]],
                                                                 "duration_s": 600})
        assert opened.status_code == 201, opened.text
        group_a, group_b = opened.json()["groups"]
        in_group = {c: await publishers(c, marks[c], lambda f: f["phase"] == "breakout") for c in marks}
        await asyncio.sleep(0.5)
        stage_cut = time.monotonic()
        members = {a1.id: a1_ws, a2.id: a2_ws, b1.id: b1_ws, b2.id: b2_ws}
        for shade, (member_id, client) in zip((40, 90, 160, 210), members.items()):
            peers.append(await publish(client, wid, [SmallVideo(shade), AudioStreamTrack()]))
        pairs = {a1.id: a2.id, a2.id: a1.id, b1.id: b2.id, b2.id: b1.id}
        got: dict[int, Received] = {}
        for member_id, other in pairs.items():
            client = members[member_id]
            await publishers(client, marks[client], lambda f, o=other: o in listed(f))
            pc, got[member_id] = await view(client, wid, other)
            peers.append(pc)
        await until(lambda: all(g.video_frames and g.audio_frames for g in got.values()), "every group's frames")
        await asyncio.sleep(1)
        window = time.monotonic() - 1
        cross = await a1_ws.request({"type": "media.view", "webinar": wid, "publisher": b1.id, "sdp": "v=0"})
        out["breakout"] = {
            "groups": {"a": group_a["members"], "b": group_b["members"]},
            "group_ids": {"a": group_a["id"], "b": group_b["id"]},
            "first_lists": {str(m): {"phase": in_group[c]["phase"], "group": in_group[c].get("group"),
                                     "sees": listed(in_group[c])} for m, c in members.items()},
            # Every list each member was sent while the groups were open.
            "lists": {str(m): sorted({p for f in c.frames[marks[c]:] if f["type"] == "media.publishers"
                                      for p in listed(f)}) for m, c in members.items()},
            "frames": {str(m): since(g, window) for m, g in got.items()},
            "sizes": {str(m): sorted(g.sizes) for m, g in got.items()},
            "stage_frames_after_split": since(a1_got, stage_cut),
            "cross_view": cross.get("code"),
        }

        # The call back.
        marks = {c: len(c.frames) for c in members.values()}
        assert (await host.http.post(base + "/breakouts/close")).status_code == 200
        stopped = {m: await c.wait_for(lambda f, m=m: f["type"] == "media.stopped" and f.get("publisher") == m,
                                       start=marks[c]) for m, c in members.items()}
        back = {m: await publishers(c, marks[c], lambda f: f["phase"] == "stage") for m, c in members.items()}
        cut = time.monotonic()
        again: dict[int, Received] = {}
        for member_id, client in members.items():
            pc, again[member_id] = await view(client, wid, speaker.id)
            peers.append(pc)
        await until(lambda: all(g.video_frames and g.audio_frames for g in again.values()), "the stage again")
        await asyncio.sleep(1)
        window = time.monotonic() - 1
        out["called_back"] = {
            "stopped": {str(m): f["reason"] for m, f in stopped.items()},
            "sees": {str(m): listed(f) for m, f in back.items()},
            "stage_frames": {str(m): since(g, window) for m, g in again.items()},
            "group_frames_after": {str(m): since(g, cut + 0.5) for m, g in got.items()},
            "speaker": speaker.id,
        }
        assert (await host.http.post(base + "/end")).status_code == 200
        for client in (host_ws, speaker_ws, *members.values()):
            await client.close()
        await asyncio.sleep(1)   # the end hands the live stream to the archive before the server stops
        return out
    finally:
        for pc in peers:
            await pc.close()
        server.stop()
        print(server.log_tail(30), flush=True)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
