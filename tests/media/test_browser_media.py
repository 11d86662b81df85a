"""A real browser: Chromium with a fake camera publishes as host through static/media.js; another context watches."""

from __future__ import annotations

from tests.support.netns import run_scenario


def test_chromium_publishes_and_another_chromium_decodes_it():
    result = run_scenario("tests.media.scenario_browser")
    assert result["errors"] == []
    # The host published from the green room before the start: the level meter showed their microphone.
    green_room, after = result["green_room"], result["after_start"]
    assert green_room["meter_shown"] and green_room["level"] > 0.02 and green_room["note_shown"], green_room
    assert after["meter_shown"] and not after["note_shown"], after   # the start moved them onto the stage
    assert result["published"]["state"] == "connected" and result["published"]["packetsSent"] > 0
    first, later = result["first"], result["later"]
    assert later["state"] == "connected"
    assert later["video"]["framesDecoded"] > first["video"]["framesDecoded"] + 10, result   # still coming, 2 s on
    assert later["video"]["frameWidth"] == 640          # Chromium's fake camera at the size media.js asks for
    assert later["audio"]["packetsReceived"] > first["audio"]["packetsReceived"], result
    assert result["video_elements"] == 1
    # Switched to audio only, the viewer keeps the sound on a connection with no video at all.
    assert result["audio_only"] == {"video_elements": 0, "audio_elements": 1}
