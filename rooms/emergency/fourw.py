"""4Ws (who does what, where, when): members keep their own entries live; coordinators import and export.

The gaps view crosses the emergency's areas (declared, and any that entries name) with
the MHPSS layers and with the activities in the table, and lists the cells nobody covers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Mapping

from rooms.emergency import fourw_csv, fourw_fields
from rooms.emergency.fourw_csv import RowProblem
from rooms.emergency.models import Area, FourW, FourWEntry, Layer
from rooms.emergency.rooms import EmergencyRooms
from rooms.emergency.settings import EmergencySettings
from rooms.emergency.store import EmergencyStores
from rooms.emergency.store.fourw import FourWFilter
from rooms.errors import BadRequest, Forbidden, NotFound
from rooms.models import Member
from rooms.service import ChatService


class ImportRejected(BadRequest):
    """Some rows are wrong: none is stored, and each problem is named by row and field."""

    def __init__(self, problems: list[RowProblem]) -> None:
        rows = len({p.row for p in problems})
        super().__init__(f"{rows} row{'s' if rows != 1 else ''} could not be read; nothing was imported",
                         field="csv")
        self.problems = problems

    def payload(self) -> dict:
        return {**super().payload(), "rows": [p.public() for p in self.problems]}


@dataclass(frozen=True)
class Gap:
    area: Area
    actors: int                           # entries covering the area at all
    missing_layers: tuple[Layer, ...]
    missing_activities: tuple[str, ...]

    def public(self) -> dict:
        return {**self.area.public(), "actors": self.actors,
                "missing_layers": [layer.value for layer in self.missing_layers],
                "missing_activities": list(self.missing_activities)}


class FourWService:
    def __init__(self, rooms: EmergencyRooms, stores: EmergencyStores, chat: ChatService,
                 settings: EmergencySettings) -> None:
        self.rooms = rooms
        self.store = stores.fourw
        self.chat = chat
        self.settings = settings

    async def table(self, member: Member, room_id: int, where: FourWFilter | None = None) -> list[FourWEntry]:
        await self.rooms.seat(member, room_id)
        return await self.store.list(room_id, where or FourWFilter())

    async def add(self, member: Member, room_id: int, raw: Mapping[str, object]) -> FourWEntry:
        await self.rooms.active_seat(member, room_id)
        organisation = raw.get("organisation")
        if not organisation:
            # A responder's own organisation is the default "who" (read afresh: profiles change).
            profile = await self.rooms.stores.accounts.get(member.id)
            organisation = profile.organisation if profile else ""
        what = _valid({**raw, "organisation": organisation})
        entry, event = await self.store.add(room_id, member.id, what)
        await self.chat.publish(event)
        return entry

    async def change(self, member: Member, room_id: int, entry_id: int, raw: Mapping[str, object]) -> FourWEntry:
        entry = await self._editable(member, room_id, entry_id)
        what = _valid({**entry.what.fields(), **raw})
        entry, event = await self.store.change(room_id, entry_id, member.id, what)
        await self.chat.publish(event)
        return entry

    async def remove(self, member: Member, room_id: int, entry_id: int) -> None:
        await self._editable(member, room_id, entry_id)
        await self.chat.publish(await self.store.remove(room_id, entry_id, member.id))

    async def _editable(self, member: Member, room_id: int, entry_id: int) -> FourWEntry:
        seat = await self.rooms.active_seat(member, room_id)
        entry = await self.store.get(room_id, entry_id)
        if entry is None:
            raise NotFound("no such entry", field="entry")
        if entry.owner_id != member.id and not seat.coordinator:
            raise Forbidden("members edit their own entries; coordinators edit any")
        return entry

    async def export_csv(self, member: Member, room_id: int, where: FourWFilter | None = None) -> str:
        return fourw_csv.export(await self.table(member, room_id, where))

    async def import_csv(self, member: Member, room_id: int, text: str) -> int:
        """Adds every row of the file, or none of them (ImportRejected lists what is wrong)."""
        await self.rooms.coordinator_seat(member, room_id)
        rows, problems = fourw_csv.parse(text, self.settings.fourw_import_max_rows)
        if problems:
            raise ImportRejected(problems)
        await self.chat.publish(await self.store.import_all(room_id, member.id, rows))
        return len(rows)

    async def gaps(self, member: Member, room_id: int, on: date | None = None) -> list[Gap]:
        seat = await self.rooms.seat(member, room_id)
        entries = await self.store.list(room_id, FourWFilter(active_on=on))
        areas = list(dict.fromkeys([*seat.emergency.areas,
                                    *(Area(e.what.country, e.what.admin_area) for e in entries)]))
        activities = sorted({e.what.activity.lower(): e.what.activity for e in entries}.items())
        gaps = []
        for area in sorted(areas, key=lambda a: (a.country, a.admin_area.lower())):
            here = [e for e in entries if e.what.country == area.country
                    and e.what.admin_area.lower() == area.admin_area.lower()]
            layers = {e.what.layer for e in here}
            done = {e.what.activity.lower() for e in here}
            gaps.append(Gap(area=area, actors=len(here),
                            missing_layers=tuple(layer for layer in Layer if layer not in layers),
                            missing_activities=tuple(name for key, name in activities if key not in done)))
        return gaps


def _valid(raw: Mapping[str, object]) -> FourW:
    what, problems = fourw_fields.parse(raw)
    if what is None:
        field, message = problems[0]
        raise BadRequest(message, field=field)
    return what
