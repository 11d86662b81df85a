"""Which sends of a batch a Follow covers (rooms/store/group_commit.py, _runs): per room, the stored
sends from its first one in the batch up to the first the Follow does not pick."""

from __future__ import annotations

from rooms.store.group_commit import Follow, QueuedSend, Stored, _runs


def _send(room: int, quiet: bool = True) -> QueuedSend:
    return QueuedSend(room_id=room, values={"quiet": quiet}, mentions=(), guarded_kinds=())


FOLLOW = Follow(statement=None, applies=lambda send: send.values["quiet"], took=lambda *_: None)  # type: ignore[arg-type]


def test_a_rooms_run_covers_its_quiet_sends_from_the_first_and_stops_at_one_that_is_not():
    batch = [_send(1), _send(2), _send(1), _send(1, quiet=False), _send(1), _send(2)]
    stored = [Stored(10, ""), Stored(4, ""), Stored(11, ""), Stored(12, ""), Stored(13, ""), Stored(5, "")]
    assert _runs(batch, stored, FOLLOW) == {1: (9, 11), 2: (3, 5)}


def test_a_room_whose_first_send_is_not_picked_has_no_run():
    batch = [_send(1, quiet=False), _send(1)]
    assert _runs(batch, [Stored(3, ""), Stored(4, "")], FOLLOW) == {}


def test_sends_the_batch_refused_are_not_in_a_run_and_do_not_end_it():
    # A refused send took no seq (the next stored one follows on); it goes the full path, alone, later.
    batch = [_send(1), _send(1), _send(1)]
    assert _runs(batch, [Stored(7, ""), None, Stored(8, "")], FOLLOW) == {1: (6, 8)}
