"""Tells a webinar's hosts and panelists who arrives on the live page and who leaves, as it happens.

Presence events are not what the hosts need: a webinar's chat room is large, so they are not fanned out
there (PRESENCE_FANOUT_MAX), and presence says "online somewhere", not "on this page". Attendance is:
each visit that opens or closes sends one `audience` frame to each host and panelist, over the members'
channel (rooms/notifications/live.py) like notifications. An arrival costs the roles query and one
publish per moderator, whatever the size of the audience; attendees receive nothing.
"""

from __future__ import annotations

from realtime.broker.base import Broker
from rooms import metrics
from rooms.models import Member
from rooms.notifications.live import publish_to_member
from rooms.webinars.models import Webinar, WebinarRole


async def tell_moderators(broker: Broker, roles: dict[int, WebinarRole], webinar: Webinar, member: Member,
                          present: bool) -> None:
    frame = {"type": "audience", "room": webinar.room_id, "webinar": webinar.id, "member": member.brief(),
             "present": present}
    told = metrics.audience_by_change["arrived" if present else "left"]
    for moderator_id, role in roles.items():
        if role.moderates and moderator_id != member.id:
            await publish_to_member(broker, moderator_id, frame)
            told.inc()
