"""The picture viewers and the archive see: a screen share with the active speaker's camera in the corner, and the
active speaker following who talks, without flicker. Real aiortc publishers over WebRTC, in the loopback namespace."""

from __future__ import annotations

from tests.support.netns import run_scenario

TOLERANCE = 24


def near(seen: list[int], colour: list[int]) -> bool:
    return all(abs(a - b) <= TOLERANCE for a, b in zip(seen, colour))


def test_screen_share_with_the_active_speakers_camera_and_a_picture_that_does_not_flicker():
    result = run_scenario("tests.media.scenario_live_picture", timeout=180)
    # Over WebRTC a viewer gets the host's camera and screen share as two pictures.
    assert result["viewer"] == {"kinds": ["audio", "video", "video"], "sizes": [[320, 240], [640, 360]]}
    colours, zero = result["colours"], result["schedule_at"]   # the schedule's start on the stream's clock
    frames = [dict(frame, at=frame["t"] - zero) for frame in result["live"]]
    talking = [f for f in frames if 1.0 <= f["at"] <= result["end_s"]]
    assert len(talking) > 40 and all(f["size"] == [640, 360] for f in talking)
    # The screen share fills the frame the whole time; a camera sits in the corner.
    assert all(near(f["full"], colours["screen"]) for f in talking), talking[:5]
    # The host talks, pauses 0.6 s (shorter than the hold time) while the speaker says a word: no switch.
    host_time = [f for f in talking if f["at"] <= result["speaker_starts"] + 1.0]
    assert host_time and all(near(f["pip"], colours["host"]) for f in host_time), \
        [(f["at"], f["pip"]) for f in host_time if not near(f["pip"], colours["host"])]
    # The host stops and the speaker talks: the picture is theirs within 2 s, and stays theirs.
    after = [f for f in frames if f["at"] >= result["speaker_starts"]]
    switched = next(f["at"] for f in after if near(f["pip"], colours["speaker"]))
    assert switched - result["speaker_starts"] <= 2.0, switched
    assert all(near(f["pip"], colours["speaker"]) for f in after if switched <= f["at"] <= result["end_s"])
    # The first speaker was a choice, the move to the second the one switch.
    assert result["switch_metric"] == ["convene_live_speaker_switches_total 1.0"], result["switch_metric"]
    # The archived recording shows the same composition: host in the corner first, then the speaker.
    archive = result["archive"]
    assert archive is not None
    early = [f for f in archive if 1.5 <= f["t"] - zero <= 5.0]
    late = [f for f in archive if switched + 0.5 <= f["t"] - zero <= result["end_s"] - 0.5]
    assert early and late
    assert all(near(f["full"], colours["screen"]) and near(f["pip"], colours["host"]) for f in early)
    assert all(near(f["full"], colours["screen"]) and near(f["pip"], colours["speaker"]) for f in late)
