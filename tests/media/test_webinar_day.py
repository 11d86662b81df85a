"""A webinar's day with aiortc peers (loopback only): the green room is the stage's alone and becomes the stage at
the start; breakout groups see and hear only themselves; calling everyone back restores the main session.

One scenario run (tests/media/scenario_webinar_day.py) serves every test here."""

from __future__ import annotations

import pytest

from tests.support.netns import run_scenario

# The media frames whose answer the green room and breakout groups change, by who sends them, as this scenario
# observes them with real peers (the matrix, tests/integration/test_authorization_matrix.py, plays the media
# frames without media; the same refusals on both backends: tests/media/test_media_authorization.py).
MEDIA_ROWS: list[tuple[str, str, str]] = [
    ("media.publish before the start", "speaker", "media.answer"),
    ("media.view before the start", "host", "media.answer"),
    ("media.watch before the start", "registrant", "lobby"),
    ("media.view before the start", "registrant", "forbidden"),
    ("media.publish in a breakout group", "member of the group", "media.answer"),
    ("media.view a member of another breakout group", "member of a group", "forbidden"),
]


@pytest.fixture(scope="module")
def day() -> dict:
    return run_scenario("tests.media.scenario_webinar_day")


def test_speakers_in_the_green_room_are_seen_by_the_stage_only_and_become_the_stage_when_live(day):
    green, live = day["green_room"], day["live"]
    speaker = day["called_back"]["speaker"]
    # The host meets the speaker and gets their picture and sound.
    assert green["host_phase"] == "green_room" and green["host_sees"] == [speaker]
    assert green["host_frames"]["video"] > 0 and green["host_frames"]["audio"] > 0
    # An attendee is in the lobby: their watch lists no green-room publisher, nothing is pushed, viewing is refused.
    assert green["attendee_phase"] == "lobby" and green["attendee_sees"] == []
    assert green["attendee_pushes"] == [[]] and green["attendee_view"] == "forbidden"
    assert green["green_room_sessions"] == 1
    # The start: the same publication is on stage, and the attendee gets it without the speaker doing anything.
    assert live["attendee_sees"] == [speaker] and live["green_room_sessions"] == 0
    assert live["attendee_frames"]["video"] >= 10 and live["attendee_frames"]["audio"] >= 25, live


def test_members_of_a_breakout_group_receive_each_other_and_nothing_from_the_other_group(day):
    breakout = day["breakout"]
    a, b = breakout["groups"]["a"], breakout["groups"]["b"]
    for member in a + b:
        mine, ids = (a, breakout["group_ids"]["a"]) if member in a else (b, breakout["group_ids"]["b"])
        first = breakout["first_lists"][str(member)]
        assert first["phase"] == "breakout" and first["group"] == ids
        # Every list the member was sent while the groups were open named only their own group.
        assert set(breakout["lists"][str(member)]) <= set(mine), breakout["lists"]
        # They get their partner's picture (the groups' 160x120 cameras) and sound, every second.
        frames = breakout["frames"][str(member)]
        assert frames["video"] >= 10 and frames["audio"] >= 25, (member, frames)
        assert breakout["sizes"][str(member)] == [[160, 120]]
    # Viewing someone of the other group is refused, and the main stage stopped reaching the groups.
    assert breakout["cross_view"] == "forbidden"
    assert breakout["stage_frames_after_split"] == {"video": 0, "audio": 0}


def test_calling_everyone_back_restores_the_main_session(day):
    back = day["called_back"]
    speaker = back["speaker"]
    for member, reason in back["stopped"].items():
        assert reason == "breakout_ended"                # the attendees' group cameras are off
        assert back["sees"][member] == [speaker]         # the stage is listed again
        frames = back["stage_frames"][member]
        assert frames["video"] >= 10 and frames["audio"] >= 25, (member, frames)
        assert back["group_frames_after"][member] == {"video": 0, "audio": 0}


def test_the_authorization_rows_hold(day):
    green, breakout = day["green_room"], day["breakout"]
    observed = {
        ("media.publish before the start", "speaker"): "media.answer" if green["host_sees"] else "refused",
        ("media.view before the start", "host"): "media.answer" if green["host_frames"]["video"] else "refused",
        ("media.watch before the start", "registrant"): green["attendee_phase"],
        ("media.view before the start", "registrant"): green["attendee_view"],
        ("media.publish in a breakout group", "member of the group"):
            "media.answer" if all(f["video"] for f in breakout["frames"].values()) else "refused",
        ("media.view a member of another breakout group", "member of a group"): breakout["cross_view"],
    }
    assert {(what, who): expected for what, who, expected in MEDIA_ROWS} == observed
