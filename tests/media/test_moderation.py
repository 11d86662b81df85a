"""Moderation reaches media that is flowing: mute, demotion, a host's reconnect, removal and the end of the webinar."""

from __future__ import annotations

from tests.support.netns import run_scenario


def test_mute_demotion_reconnect_removal_and_end_act_on_live_media():
    result = run_scenario("tests.media.scenario_moderation")
    assert result["before_mute"]["audio"] > 0 and result["before_mute"]["video"] > 0
    # Muted: the viewer hears nothing while the picture goes on; unmuted: sound again.
    assert result["muted"]["audio"] == 0 and result["muted"]["video"] > 0, result
    assert result["unmuted"]["audio"] > 0, result
    # Demoted: the speaker is told, viewers see the publisher gone, nothing more arrives, and they may not publish.
    assert result["speaker_stopped"]["reason"] == "demoted"
    assert result["publishers_after_demotion"] == []
    assert result["after_demotion"] == {"audio": 0, "video": 0}
    assert result["republish_after_demotion"] == "forbidden"
    # A host who dropped off publishes again in the same session; viewers see a new stream and get it.
    reconnect = result["reconnect"]
    assert reconnect["gone"] == [] and reconnect["back_stream"] > reconnect["first_stream"]
    assert reconnect["video"] > 0 and reconnect["audio"] > 0, reconnect
    # Removed: the viewer's peer is closed and they may not watch again.
    assert result["after_removal"] == {"video": 0, "state": "closed"}
    assert result["watch_after_removal"] == "forbidden"
    assert result["pushes_after_removal"] == 0   # not even who is on stage
    assert result["host_stopped"] == "ended"
