"""aiortc peers over loopback: a host's synthetic video and audio reach every viewer for the whole test."""

from __future__ import annotations

from tests.support.netns import run_scenario


def test_three_viewers_get_the_hosts_video_and_audio_and_an_audio_only_viewer_gets_no_video():
    result = run_scenario("tests.media.scenario_viewers")
    assert result["publishers"] == [{"member": {**result["publishers"][0]["member"], "id": result["host"]},
                                     "kinds": ["audio", "video"], "stream": 1}]
    assert len(result["viewers"]) == 3
    for viewer in result["viewers"]:
        assert viewer["kinds"] == ["audio", "video"]
        assert viewer["sizes"] == [[320, 240]]
        # Steady for every second of the test: the publisher sends 30 frames and 50 audio frames a second.
        assert all(frames >= 10 for frames in viewer["video_per_second"]), viewer
        assert all(frames >= 25 for frames in viewer["audio_per_second"]), viewer
    audio_only = result["audio_only"]
    assert audio_only["kinds"] == ["audio"] and audio_only["video_frames"] == 0
    assert all(frames >= 25 for frames in audio_only["audio_per_second"]), audio_only
