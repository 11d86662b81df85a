"""Reports: any member who can read a message reports it with a reason; moderators work the queue.

A report is not an event of the room's sequence: members do not see who reported whom. What a
moderator does about it is, when it changes the room (a deletion, a mute, a ban); the report keeps
who handled it, when and how, and dismissing it leaves the room unchanged.
"""

from __future__ import annotations

from rooms import metrics
from rooms.errors import BadRequest, Conflict, Forbidden, NotFound
from rooms.management import RoomService
from rooms.models import EventKind, Member
from rooms.moderation.authority import Authority
from rooms.moderation.models import Report, ReportStatus, Resolution
from rooms.moderation.restrictions import MAX_REASON, RestrictionService
from rooms.moderation.store import ModerationStores
from rooms.service import ChatService
from rooms.store import Stores

DEFAULT_MUTE_MINUTES = 60
QUEUE_LIMIT = 200


class ReportService:
    def __init__(self, authority: Authority, stores: ModerationStores, chat_stores: Stores, chat: ChatService,
                 rooms: RoomService, restrictions: RestrictionService) -> None:
        self.authority = authority
        self.store = stores.reports
        self.chat_stores = chat_stores
        self.chat = chat
        self.rooms = rooms
        self.restrictions = restrictions

    async def file(self, member: Member, room_id: int, seq: int, reason: str) -> tuple[Report, bool]:
        """Answers (report, created): reporting the same message again changes nothing."""
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON:
            raise BadRequest(f"say why, in 1 to {MAX_REASON} characters", field="reason")
        await self.rooms.readable(member, room_id)
        message = await self.chat_stores.messages.get(room_id, seq)
        if message is None or message.kind is not EventKind.MESSAGE or message.deleted:
            raise NotFound("no such message", field="seq")
        if message.sender_id == member.id:
            raise BadRequest("you cannot report your own message", field="seq")
        report, created = await self.store.file(room_id, seq, member.id, reason, message.sender_id,
                                                message.sender_name, message.body)
        if created:
            metrics.reports_filed.inc()
        return report, created

    async def queue(self, actor: Member, room_id: int, status: ReportStatus | None) -> list[Report]:
        await self.authority.seat(actor, room_id)
        return await self.store.of_room(room_id, status, QUEUE_LIMIT)

    async def everywhere(self, actor: Member, status: ReportStatus | None = ReportStatus.OPEN) -> list[Report]:
        """Site admins' queue: every room's reports."""
        if not actor.site_admin:
            raise Forbidden("site admins only")
        return await self.store.everywhere(status, QUEUE_LIMIT)

    async def resolve(self, actor: Member, room_id: int, report_id: int, resolution: Resolution,
                      minutes: int | None = None, reason: str = "") -> Report:
        """Dismisses the report, or acts on the reported message: deletes it, or mutes or bans its author."""
        seat = await self.authority.seat(actor, room_id)
        report = await self.store.get(report_id)
        if report is None or report.room_id != room_id:
            raise NotFound("no such report")
        if report.status is not ReportStatus.OPEN:
            raise Conflict(f"already {report.status.value} by {report.handled_by_name or 'someone'}")
        reason = reason.strip() or report.reason
        if resolution is not Resolution.DISMISS and resolution is not Resolution.DELETE and report.sender_id is None:
            raise BadRequest("the author's account is gone", field="action")
        if resolution is Resolution.DELETE:
            await self.chat.remove_reported(seat.actor, room_id, report.seq)
        elif resolution is Resolution.MUTE:
            assert report.sender_id is not None
            await self.restrictions.mute(actor, room_id, report.sender_id, minutes or DEFAULT_MUTE_MINUTES, reason)
        elif resolution is Resolution.BAN:
            assert report.sender_id is not None
            await self.restrictions.ban(actor, room_id, report.sender_id, minutes, reason)
        await self.store.handle(report, resolution, actor.id)
        if resolution in (Resolution.DISMISS, Resolution.DELETE):
            metrics.moderation_action[resolution.value].inc()
        handled = await self.store.get(report_id)
        assert handled is not None
        return handled

    async def count_open(self) -> int:
        return await self.store.count_open()
