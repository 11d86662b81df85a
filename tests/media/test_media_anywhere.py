"""Media on any process, and the WebRTC viewer budget, which the stage is never held to (issue 17): real aiortc peers,
real processes, loopback only."""

from __future__ import annotations

from tests.support.netns import run_scenario


def test_viewers_on_the_other_process_get_the_media_and_everything_resumes_when_its_owner_is_killed():
    result = run_scenario("tests.media.scenario_failover", timeout=240)
    before, resumed, after, recording = result["before"], result["resumed"], result["after"], result["recording"]
    # Process A took the media with the host's publication; the viewers' sockets are on B, which relays to A
    # and holds no session of its own, and they receive frames every second.
    assert before["owner_is_a"] and before["viewers_on_b"], before
    assert before["b_sessions"] == 0 and before["b_relayed"] >= 4, before
    for video, audio in zip(before["video_per_second"], before["audio_per_second"]):
        assert all(frames >= 10 for frames in video) and all(frames >= 25 for frames in audio), before
    # A is killed: B takes the lease over; the viewers are told media.moved and view again, the host's client
    # reconnects to B and publishes again; media flows within 10 s, every second after that.
    assert all(seconds < 10 for seconds in resumed["viewers_s"]), resumed
    assert resumed["republished_s"] < 10, resumed
    assert all(told >= 1 for told in resumed["viewers_told_moved"]), resumed
    assert len(resumed["publisher_servers"]) == 2, resumed
    for video, audio in zip(after["video_per_second"], after["audio_per_second"]):
        assert all(frames >= 10 for frames in video) and all(frames >= 25 for frames in audio), after
    assert after["b_sessions"] == 1 and after["b_taken_over"] >= 1, after
    # The HTTP stream goes on: new segments after the outage, appended after a discontinuity.
    assert after["segments_listed"] > before["segments"] + 1 and after["discontinuities"] >= 1, after
    # The recording covers the webinar except the outage: as long as the two parts published, not the wall time.
    files = recording["files"]
    assert files["video"]["kinds"] == ["audio", "video"] and files["audio"]["kinds"] == ["audio"]
    for rendition in files.values():
        assert abs(rendition["duration"] - recording["expected_s"]) <= 1.5, recording
        assert rendition["duration"] < recording["wall_s"] - recording["outage_s"] / 2, recording
        assert rendition["loud_audio_frames"] > 100, recording
    assert files["video"]["distinct_lumas"] > 20


def test_beyond_the_viewer_budget_attendees_get_the_http_stream_and_the_stage_still_publishes():
    result = run_scenario("tests.media.scenario_capacity", timeout=180)
    # MEDIA_MAX_VIEWERS=2: two attendees watch over WebRTC; the third is sent to the HTTP stream and may not view.
    assert result["seated"] == ["media.publishers", "media.publishers"]
    third = result["third_watch"]
    assert (third["type"], third["reason"]) == ("media.stream", "capacity")
    assert result["third_view"] == "media_full"
    # Chromium (French) on the live page: the stream plays in the stage, with the note in the member's language.
    browser = result["browser"]
    assert result["errors"] == []
    assert browser["playing"] and browser["tag"] == "VIDEO" and browser["webrtc_views"] == 0, browser
    assert browser["lang"] == "fr" and browser["note"].startswith("La vidéo en direct de ce webinaire est complète")
    # Promoted, the third attendee publishes over WebRTC anyway, is seated, and a seated viewer receives them.
    assert result["speaker_watch"] == "media.publishers"
    assert result["publishers_seen_by_seated"] == sorted(result["ids"].values())
    assert result["speaker_frames_after_s"] < 10
    metrics = result["metrics"]
    assert metrics["sent_to_stream"] >= 2 and metrics["webrtc_viewers"] == 3 and metrics["publishers"] == 2, metrics


def test_beyond_the_viewer_budget_a_host_and_a_panelist_who_come_to_watch_still_get_webrtc():
    result = run_scenario("tests.media.scenario_capacity_stage", timeout=180)
    # MEDIA_MAX_VIEWERS=1, taken by an attendee before the stage opens the live page in Chromium.
    assert result["seated"] == "media.publishers"
    assert result["errors"] == []
    # A co-host and a panelist are seated anyway: they decode the host's video over WebRTC, with no note.
    for name in ("co_host", "panelist"):
        stats, page = result[name], result[name + "_page"]
        assert stats["state"] == "connected" and stats["video"]["framesDecoded"] > 10, (name, stats)
        assert page == {"note": False, "stream_element": False, "webrtc_views": 1}, (name, page)
    # A plain attendee is sent to the HTTP stream, which plays in the stage under the note.
    attendee = result["attendee"]
    assert attendee["playing"] and attendee["tag"] == "VIDEO" and attendee["webrtc_views"] == 0, attendee
    assert attendee["note"].startswith("Live video is full for this webinar"), attendee
    # Three seats on a budget of one: the attendee's and the stage's two; only the attendee went to the stream.
    assert result["metrics"] == {"sent_to_stream": 1, "webrtc_viewers": 3}, result["metrics"]
