"""Where the room page draws its "new messages" line, and where "jump to the first unread" leads."""

from __future__ import annotations

from dataclasses import dataclass

from realtime.pages.rendering import HISTORY_PAGE
from realtime.pages.rooms import _unread


@dataclass
class Shown:
    seq: int
    sender_id: int


@dataclass
class Reader:
    id: int


ME = Reader(7)


def page(first: int, last: int, sender: int = 2) -> list[Shown]:
    return [Shown(seq, sender) for seq in range(first, last + 1)]


def test_no_marker_outside_the_room_or_in_a_view_of_it() -> None:
    assert _unread(1, None, page(1, 5), ME, False) == {"unread_at": None, "unread_link": None}


def test_the_line_goes_before_the_first_message_by_someone_else_after_the_marker() -> None:
    shown = page(1, 3) + [Shown(4, ME.id)] + page(5, 9)
    assert _unread(1, 3, shown, ME, False) == {"unread_at": 5, "unread_link": "#unread"}


def test_everything_read_means_no_line() -> None:
    assert _unread(1, 9, page(1, 9), ME, False) == {"unread_at": None, "unread_link": None}
    assert _unread(1, 3, page(1, 3) + [Shown(4, ME.id)], ME, False) == {"unread_at": None, "unread_link": None}


def test_a_marker_older_than_the_page_leads_to_the_stretch_of_the_room_around_it() -> None:
    shown = page(101, 150)
    found = _unread(4, 20, shown, ME, True)
    assert found == {"unread_at": None, "unread_link": f"/rooms/4?before={21 + HISTORY_PAGE // 2}#unread"}
    # That stretch shows the marker's neighbourhood, where the line is drawn.
    stretch = page(21 + HISTORY_PAGE // 2 - HISTORY_PAGE, 20 + HISTORY_PAGE // 2)
    assert _unread(4, 20, stretch, ME, True) == {"unread_at": 21, "unread_link": "#unread"}
