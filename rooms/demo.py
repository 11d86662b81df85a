"""`python -m rooms.demo`: seeds a few members, rooms and messages once, so a fresh install has something to show:
attachments, a moderator with a report waiting in the queue, a site admin, an emergency room with an
alert, a situation report and 4W rows, and webinars (one coming up, one past with its recording)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import replace
from datetime import date, time
from pathlib import Path
from typing import Any

from realtime.services import Services
from realtime.settings import Settings
from rooms.attachments import samples
from rooms.demo_webinars import seed_webinars
from rooms.emergency.models import Area
from rooms.models import Member, Role, Room, Visibility
from rooms.notifications.models import Channel, EmailTiming, QuietHours

PASSWORD = "convene-demo"

# Made-up people and organisations, so no real person or body is quoted.
MEMBERS: list[dict[str, Any]] = [
    dict(username="amina", display_name="Amina Wanjiru", organisation="Nairobi Community Counselling Network",
         country="KE", languages=["en", "sw"], practice_areas=["psychological first aid", "community health workers"],
         bio="Trainer and supervisor for lay counsellors."),
    dict(username="tomas", display_name="Tomás Herrera", organisation="Bogotá Community Mental Health Network",
         country="CO", languages=["es", "en"], practice_areas=["trauma-informed care", "displacement"],
         bio="Psychologist working with displaced families."),
    dict(username="priya", display_name="Priya Raman", organisation="Goa Community Mental Health Collective",
         country="IN", languages=["en", "hi", "ta"], practice_areas=["task sharing", "depression care"],
         bio="Researcher on task-shared psychological interventions."),
    dict(username="kofi", display_name="Kofi Mensah", organisation="Accra Peer Support Network",
         country="GH", languages=["en", "tw"], practice_areas=["peer support", "stigma reduction"],
         bio="Peer support coordinator."),
    # An account that posts an advertisement, for the moderation queue to have something in it.
    dict(username="quickcure", display_name="Quick Cure Offers", organisation="", country="",
         languages=["en"], practice_areas=[], bio=""),
]

# Amina is a site admin (the Admin page) and Kofi moderates Welcome, where Priya reported an advertisement.
SITE_ADMIN = "amina"
MODERATORS = [("Welcome", "kofi")]
REPORTED = ("Welcome", "quickcure", "Tired of anxiety? Our herbal drops cure it in 3 days, guaranteed! DM for prices.",
            "priya", "An advertisement, and a harmful health claim.")

# The emergency room: made-up but plausible, so the Emergencies screen has something to coordinate.
EMERGENCY = dict(name="Monsoon floods: Sindh", topic="MHPSS coordination for the flood response",
                 region="Sindh, Pakistan", started_on=date(2026, 11, 20),
                 areas=[Area("PK", "Dadu"), Area("PK", "Jacobabad"), Area("PK", "Larkana")])
EMERGENCY_COORDINATORS = ["amina", "priya"]   # amina opens it
EMERGENCY_MEMBERS = ["tomas", "kofi"]
ALERT = ("amina", "Road to the Dadu camp is flooded again: no field visits today. Confirm you have seen this.")
SITREP = ("priya", "Situation report 1",
          "## Needs\n\n- Psychological first aid at the three camps\n- Referral pathway for severe cases\n\n"
          "## Gaps\n\n- No specialised services in Jacobabad yet")
FOURW = [
    ("priya", dict(organisation="Goa Community Mental Health Collective", activity="Psychological first aid",
                   layer="focused_non_specialised", country="PK", admin_area="Dadu", start_date="2026-11-22")),
    ("kofi", dict(organisation="Accra Peer Support Network", activity="Peer support groups",
                  layer="community_family", country="PK", admin_area="Larkana", start_date="2026-11-25")),
    ("tomas", dict(organisation="Bogotá Community Mental Health Network", activity="Child friendly spaces",
                   layer="community_family", country="PK", admin_area="Dadu", start_date="2026-11-24")),
]

# (name, topic, visibility, owner, other members)
ROOMS = [
    ("Welcome", "Say hello and tell us where you work", Visibility.PUBLIC, "amina", ["tomas", "priya", "kofi"]),
    ("Psychological first aid", "Practice questions, training materials, supervision", Visibility.PUBLIC,
     "priya", ["amina", "tomas"]),
    ("Field notes: East Africa", "What we are learning in the field", Visibility.PUBLIC, "amina", ["kofi"]),
    ("Coordinators", "Planning the monthly calls", Visibility.PRIVATE, "amina", ["priya"]),
    ("Case discussion", "Anonymised cases for supervision; messages are removed after 30 days", Visibility.PRIVATE,
     "amina", ["priya", "kofi"]),
]
# Rooms that keep their messages for a limited time (docs/privacy.md, "Room retention"): name -> days.
RETENTION = {"Case discussion": 30}

# (room name, or "dm" for the amina–tomas conversation; sender; text, in Markdown)
MESSAGES = [
    ("Welcome", "amina", "Welcome, everyone! This is a space to share practice and support each other."),
    ("Welcome", "tomas", "Hola from Bogotá. Glad to be here. I work with families who have been displaced."),
    ("Welcome", "priya", "Hello from Goa! I research task-sharing models. Happy to share what has worked."),
    ("Welcome", "kofi", "Greetings from Accra. Peer support is my area; looking forward to learning from you all."),
    ("Psychological first aid", "priya",
     "For those running PFA trainings: how do you adapt the *look, listen, link* steps for phone support?"),
    ("Psychological first aid", "amina",
     "We spend more time on **listen**: without body language, reflecting back what you heard matters even more."),
    ("Psychological first aid", "tomas",
     "Same for us. We also agree on a call-back number at the start, in case the line drops."),
    ("Psychological first aid", "priya",
     "**Reference for everyone:** WHO's *Psychological first aid: guide for field workers*, free in many "
     "languages: https://www.who.int/publications/i/item/9789241548205"),
    ("Field notes: East Africa", "amina",
     "Our community health workers asked for a short checklist on self-care after difficult visits. "
     "@kofi, didn't your team make one?"),
    ("Field notes: East Africa", "kofi",
     "We made one with our peer supporters last year. I'll translate the notes and post them here:\n\n"
     "- rest before the next visit\n- talk it through with a peer\n- note what went well"),
    ("Coordinators", "amina", "Draft agenda for next month's call: supervision models, then open questions."),
    ("Coordinators", "priya", "Looks good. Could we leave ten minutes for the new members to introduce themselves?"),
    ("Case discussion", "priya",
     "A volunteer keeps taking calls after midnight and says she cannot rest. How would you start supervision?"),
    ("Case discussion", "kofi", "I would ask what the late calls give her first, before talking about limits."),
    ("dm", "tomas", "Amina, thank you for the supervision notes. They helped our team a lot this week."),
    ("dm", "amina", "I'm so glad. Take care of yourselves too; it has been a heavy month."),
    ("dm", "tomas", "Could we move Thursday's call to 15:00 Nairobi time?"),
    ("Field notes: East Africa", "kofi", "@amina the checklist is translated into Swahili; could you check it?"),
]


# Conversations, by message number (1-based, in MESSAGES): who answers what in a thread, who reacts
# with what, and who pins what.
REPLIES = {6: 5, 7: 5, 10: 9}
REACTIONS = [(5, "amina", "👍"), (5, "tomas", "👍"), (7, "priya", "🙏"), (8, "amina", "❤️"), (8, "tomas", "👍"),
             (10, "amina", "🙏")]
PINS = [(8, "priya")]


async def seed(services: Services) -> bool:
    """Creates the demo data unless it is already there. Answers whether anything was created."""
    stores = services.stores
    if await stores.accounts.credentials("amina") is not None:
        return False
    members: dict[str, Member] = {}
    for profile in MEMBERS:
        member = await services.accounts.register(profile["username"], PASSWORD, profile["display_name"])
        changes = {key: value for key, value in profile.items() if key not in ("username", "display_name")}
        members[member.username] = await stores.accounts.update_profile(member.id, changes) or member
    rooms: dict[str, Room] = {}
    for name, topic, visibility, owner, others in ROOMS:
        room = await services.rooms.create(members[owner], name, visibility, topic)
        for username in others:
            await stores.memberships.add(room.id, members[username].id)
        rooms[name] = room
    for name, days in RETENTION.items():
        owner = next(owner for room_name, _, _, owner, _ in ROOMS if room_name == name)
        await services.members_data.retention.set_days(members[owner], rooms[name].id, days)
    rooms["dm"] = await services.rooms.open_dm(members["amina"], [members["tomas"].id])
    seqs: dict[int, int] = {}
    for number, (room_name, sender, body) in enumerate(MESSAGES, start=1):
        room_id = rooms[room_name].id
        # Composed (formatted, mentions resolved, the parent checked) like any message, then stored
        # directly rather than through ChatService.send: nothing is listening, so nothing to publish.
        parent = seqs.get(REPLIES.get(number, 0))
        draft = await services.chat.composer.draft(room_id, members[sender], body, parent)
        event, _ = await stores.messages.append(room_id, members[sender].id, f"demo-{number}", draft)
        seqs[number] = event.seq
    conversations = services.conversations.stores
    room_of = {number: rooms[room_name].id for number, (room_name, _, _) in enumerate(MESSAGES, start=1)}
    for number, username, emoji in REACTIONS:
        await conversations.reactions.set(room_of[number], seqs[number], members[username].id, emoji, True)
    for number, username in PINS:
        await conversations.pins.set(room_of[number], seqs[number], members[username].id, True)
    await seed_attachments(services, rooms["Psychological first aid"], members)
    await _moderation(services, members, rooms)
    await _emergency(services, members)
    await seed_webinars(services, members)   # an upcoming webinar, and a past one with its recording
    await seed_notifications(services, members, list(rooms.values()))
    await seed_web_client(services, members, rooms, seqs)
    return True


async def seed_attachments(services: Services, room: Room, members: dict[str, Member]) -> None:
    """A PDF, a photo and a voice note, made now (samples.py) and stored like any upload: the photo's
    GPS position is stripped on the way in, as a member's would be."""
    work = Path(tempfile.mkdtemp(prefix="convene-demo-"))
    try:
        checklist = work / "PFA phone support checklist.pdf"
        checklist.write_bytes(samples.pdf("Psychological first aid by phone", [
            "1. Look: agree on a call-back number first, in case the line drops.",
            "2. Listen: reflect back what you heard; silence is fine.",
            "3. Link: name one service the caller can reach this week.",
            "4. Look after yourself: debrief with a peer after difficult calls."]))
        files = [
            ("priya", checklist, "The one-page checklist we use for PFA by phone, for anyone running a training."),
            ("amina", samples.photo(work / "flipchart.jpg", gps=(-1.2864, 36.8172)),
             "Flipchart from Tuesday's training with community health workers."),
            ("tomas", samples.voice_note(work / "voice-note.ogg"), ""),
        ]
        for number, (sender, path, body) in enumerate(files, start=1):
            member = members[sender]
            attachment = await services.attachments.store(member.id, room.id, path, path.name)
            ids = [attachment.id]
            await services.stores.messages.send(
                room.id, member.id, f"demo-file-{number}", await services.chat.composer.draft(room.id, member, body),
                check=services.rooms.ensure_open,
                attachments=await services.attachments.for_message(member.id, room.id, ids),
                after_insert=services.attachments.claim(member.id, room.id, ids))
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def seed_notifications(services: Services, members: dict[str, Member], rooms: list[Room]) -> None:
    """Amina's inbox (the mention and Tomás's messages above), her preferences and a verified address."""
    notifications = services.notifications
    amina = members["amina"]
    prefs = await notifications.preferences(amina)
    channels = {**prefs.channels, "message": frozenset({Channel.PUSH})}
    await notifications.save_preferences(amina, replace(
        prefs, channels=channels, email_timing=EmailTiming.HOURLY, quiet_hours=QuietHours(time(21), time(7)),
        time_zone="Africa/Nairobi", language="en"))
    await notifications.outbox.set_address(amina.id, "amina@example.org")
    await notifications.outbox.verify(amina.id, lambda email: email == "amina@example.org")
    for room in rooms:   # what the running notifier would do; the demo seeds before any server starts
        await notifications.notifier.catch_up(room.id)


async def _moderation(services: Services, members: dict[str, Member], rooms: dict[str, Room]) -> None:
    """A site admin, a moderator, and a reported message waiting in the queue."""
    await services.moderation.accounts.make_admin(members[SITE_ADMIN].id)
    for room_name, username in MODERATORS:
        owner = next(members[o] for name, _, _, o, _ in ROOMS if name == room_name)
        await services.moderation.actions.set_role(owner, rooms[room_name].id, members[username].id, Role.MODERATOR)
    room_name, sender, body, reporter, reason = REPORTED
    room = rooms[room_name]
    await services.stores.memberships.add(room.id, members[sender].id)
    event, _ = await services.stores.messages.append(room.id, members[sender].id, "demo-reported", body)
    await services.moderation.reports.file(members[reporter], room.id, event.seq, reason)


async def _emergency(services: Services, members: dict[str, Member]) -> None:
    """An emergency room with its coordinators and responders, an alert, a situation report and 4W rows."""
    emergency = services.emergency
    owner = members[EMERGENCY_COORDINATORS[0]]
    opened = await emergency.rooms.create(owner, EMERGENCY["name"], EMERGENCY["topic"], EMERGENCY["region"],
                                          EMERGENCY["started_on"], EMERGENCY["areas"])
    room_id = opened.room.id
    for username in EMERGENCY_COORDINATORS[1:]:
        await emergency.rooms.add_member(owner, room_id, members[username].id, Role.MODERATOR)
    for username in EMERGENCY_MEMBERS:
        await emergency.rooms.add_member(owner, room_id, members[username].id, Role.MEMBER)
    author, body = ALERT
    await emergency.alerts.post(members[author], room_id, "demo-alert", body)
    author, title, text = SITREP
    await emergency.sitreps.publish(members[author], room_id, title, text, 0)
    for author, entry in FOURW:
        await emergency.fourw.add(members[author], room_id, entry)


async def seed_web_client(services: Services, members: dict[str, Member], rooms: dict[str, Room],
                          seqs: dict[int, int]) -> None:
    """Amina has read "Psychological first aid" up to her own answer, so the room opens with the "new
    messages" line above Tomás's reply and the files; Tomás reads in the dark theme."""
    await services.stores.memberships.mark_read(rooms["Psychological first aid"].id, members["amina"].id, seqs[6])
    tomas = members["tomas"]
    await services.notifications.save_preferences(tomas, replace(await services.notifications.preferences(tomas),
                                                                 theme="dark"))


async def main() -> None:
    settings = Settings.from_env()
    services = Services.build(settings)
    try:
        await services.stores.db.migrate()
        created = await seed(services)
    finally:
        services.chat.composer.formatter.close()
        await services.stores.db.dispose()
    print("Demo data created." if created else "Demo data already present; nothing changed.")
    print(f"Open /login and log in as amina, tomas, priya or kofi with the password {PASSWORD!r}.")
    print("Amina is a site admin (/admin) and coordinates an emergency room; Kofi moderates Welcome, "
          "where a report waits in the queue.")


if __name__ == "__main__":
    asyncio.run(main())
