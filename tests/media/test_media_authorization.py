"""Media actions are authorized on the server (both backends): only the stage publishes, only registrants watch."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.support.client import Api

# Never negotiated: every refusal here comes before the offer is read.
OFFER = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


async def webinar_with(server, attendees: int, start: bool = True) -> tuple[Api, int, list[Api]]:
    host = await Api.register(server.url)
    starts = datetime.now(timezone.utc)
    response = await host.http.post("/api/webinars", json={
        "title": "Who may publish", "description": "", "language": "en", "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=1)).isoformat(), "visibility": "public"})
    assert response.status_code == 201, response.text
    wid = response.json()["id"]
    people = [await Api.register(server.url) for _ in range(attendees)]
    for person in people[:-1]:   # the last one never registers
        assert (await person.http.post(f"/api/webinars/{wid}/register")).status_code == 200
    if start:
        assert (await host.http.post(f"/api/webinars/{wid}/start")).status_code == 200
    return host, wid, people


async def test_an_attendee_who_was_not_promoted_cannot_publish(server):
    host, wid, (attendee, stranger) = await webinar_with(server, 2)
    client = await attendee.connect(server.ws_url)
    refused = await client.request({"type": "media.publish", "webinar": wid, "sdp": OFFER})
    assert refused["type"] == "error" and refused["code"] == "forbidden"
    assert "promoted" in refused["message"]
    # Watching is theirs to do; a member who did not register may neither watch nor view.
    listed = await client.request({"type": "media.watch", "webinar": wid})
    assert listed == {"type": "media.publishers", "webinar": wid, "publishers": [], "phase": "stage",
                      "ice_servers": [], "ref": listed["ref"]}
    outsider = await stranger.connect(server.ws_url)
    for frame in ({"type": "media.watch", "webinar": wid},
                  {"type": "media.view", "webinar": wid, "publisher": host.id, "sdp": OFFER},
                  {"type": "media.publish", "webinar": wid, "sdp": OFFER}):
        assert (await outsider.request(frame))["code"] == "forbidden", frame
    # Viewing someone who is not publishing is a plain not-found.
    missing = await client.request({"type": "media.view", "webinar": wid, "publisher": host.id, "sdp": OFFER})
    assert missing["code"] == "not_found" and missing["field"] == "publisher"
    for c in (client, outsider):
        await c.close()
    assert (await host.http.post(f"/api/webinars/{wid}/end")).status_code == 200


async def test_before_the_start_only_the_stage_publishes_in_the_green_room_and_nobody_after_the_end(server):
    host, wid, (attendee, _) = await webinar_with(server, 2, start=False)
    client = await host.connect(server.ws_url)
    # The host's offer is read (and refused as SDP): the green room lets the stage publish before the start.
    early = await client.request({"type": "media.publish", "webinar": wid, "sdp": OFFER})
    assert early["code"] == "bad_request" and early["field"] == "sdp", early
    listed = await client.request({"type": "media.watch", "webinar": wid})
    assert listed["phase"] == "green_room"
    # An attendee waits in the lobby: they watch an empty stage and may neither view nor publish.
    lobby = await attendee.connect(server.ws_url)
    watched = await lobby.request({"type": "media.watch", "webinar": wid})
    assert watched["phase"] == "lobby" and watched["publishers"] == []
    viewed = await lobby.request({"type": "media.view", "webinar": wid, "publisher": host.id, "sdp": OFFER})
    assert viewed["code"] == "forbidden" and "not live" in viewed["message"]
    assert (await lobby.request({"type": "media.publish", "webinar": wid, "sdp": OFFER}))["code"] == "forbidden"
    assert (await host.http.post(f"/api/webinars/{wid}/start")).status_code == 200
    assert (await host.http.post(f"/api/webinars/{wid}/end")).status_code == 200
    late = await client.request({"type": "media.publish", "webinar": wid, "sdp": OFFER})
    assert late["code"] == "forbidden" and "ended" in late["message"]
    assert (await lobby.request({"type": "media.watch", "webinar": wid}))["code"] == "forbidden"
    await client.close()
    await lobby.close()


async def test_hostile_offers_are_refused_with_typed_errors(server):
    host, wid, _ = await webinar_with(server, 1)
    client = await host.connect(server.ws_url)
    garbage = await client.request({"type": "media.publish", "webinar": wid, "sdp": "m=video x\r\nv=?"})
    assert garbage["code"] == "bad_request" and garbage["field"] == "sdp"
    # A NUL is refused before anything reads the frame, as everywhere text comes in (rooms/text_rules.py).
    nul = await client.request({"type": "media.publish", "webinar": wid, "sdp": "m=video x\r\n\x00"})
    assert nul["code"] == "disallowed_characters", nul
    huge = await client.request({"type": "media.publish", "webinar": wid, "sdp": "a" * 15_001})
    assert huge["code"] in ("frame_too_large", "bad_frame")
    kinds = await client.request({"type": "media.publish", "webinar": wid, "sdp": OFFER, "kinds": ["data"]})
    assert kinds["code"] == "bad_frame" and kinds["field"].startswith("kinds")
    await client.close()
    assert (await host.http.post(f"/api/webinars/{wid}/end")).status_code == 200
