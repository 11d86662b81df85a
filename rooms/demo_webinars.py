"""The demo's webinars: one coming up, with co-hosts, a panelist and registrations; one that took place five days
ago, with its recording, chat replay, captions and the hosts' summary.

The recording is a short clip made now with PyAV (a test pattern and a tone: recordings/archive/samples.py),
stored like an imported file and turned into the archive's files by the archive's own job (a child process:
web-playable MP4, audio-only Opus, poster, HLS), so it plays in the player page like any recording.
Everything goes through the stores, as the rest of the demo: nothing is listening yet, so nothing is
published. The past webinar's times are then set to when it took place.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, update

from realtime.services import Services
from recordings.archive.models import JobState, RecordingVisibility, SourceKind
from recordings.archive.samples import synthetic_file
from rooms.models import Member
from rooms.store.schema import messages, utcnow
from rooms.webinars.models import QuestionState, Webinar, WebinarRole, WebinarState, WebinarVisibility
from rooms.webinars.store.schema import webinar_attendance, webinar_polls, webinar_questions, webinars

CLIP_S = 8

CAPTIONS = {
    ("en", "English"): ["Welcome, everyone, to our supervision session.",
                        "Today: what helps lay counsellors after a hard week.",
                        "First, a short round: one word for how you arrive."],
    ("fr", "Français"): ["Bienvenue à toutes et à tous dans cette séance de supervision.",
                         "Aujourd'hui : ce qui aide les conseillers non professionnels après une semaine difficile.",
                         "D'abord, un petit tour : un mot pour dire comment vous arrivez."],
}

# (seconds into the session, who, what): the chat the replay shows beside the recording.
CHAT = [(1.5, "tomas", "Hello from Bogotá! Glad to be here."),
        (3.5, "kofi", "Greetings from Accra. Our peer supporters are listening in too."),
        (5.5, "amina", "One word from me: tired, but hopeful.")]


async def seed_webinars(services: Services, members: dict[str, Member]) -> None:
    await _upcoming(services, members)
    await _past(services, members)


async def _upcoming(services: Services, members: dict[str, Member]) -> Webinar:
    amina, priya, kofi, tomas = (members[n] for n in ("amina", "priya", "kofi", "tomas"))
    starts = (utcnow() + timedelta(days=3)).replace(hour=13, minute=0, second=0, microsecond=0)
    webinar = await services.webinars.sessions.create(
        amina, title="Psychological first aid by phone: a practice session",
        description="Role plays in small groups: the caller, the helper and an observer. Bring a case you found hard.",
        language="en", starts_at=starts, ends_at=starts + timedelta(minutes=90),
        visibility=WebinarVisibility.PUBLIC, anonymous_questions=True)
    stores = services.webinars.stores
    await stores.hosts.set_host(webinar, priya.id, True, amina.id, {"member": priya.brief(), "host": True})
    await stores.sessions.set_role(webinar, kofi.id, WebinarRole.PANELIST, amina.id, None, {})
    await stores.sessions.register(webinar, tomas.id)
    await stores.questions.ask(webinar.id, webinar.room_id, tomas.id,
                               "Could we practise a call where the line keeps dropping?", False)
    return webinar


async def _past(services: Services, members: dict[str, Member]) -> None:
    amina, priya, kofi, tomas = (members[n] for n in ("amina", "priya", "kofi", "tomas"))
    began = (utcnow() - timedelta(days=5)).replace(hour=14, minute=0, second=0, microsecond=0)
    webinar = await services.webinars.sessions.create(
        priya, title="Supervision for lay counsellors: what works",
        description="How peer supervision keeps lay counsellors well, with examples from three countries.",
        language="en", starts_at=began, ends_at=began + timedelta(hours=1), visibility=WebinarVisibility.PUBLIC,
        anonymous_questions=False)
    stores = services.webinars.stores
    await stores.hosts.set_host(webinar, amina.id, True, priya.id, {"member": amina.brief(), "host": True})
    for member in (tomas, kofi):
        await stores.sessions.register(webinar, member.id)
    moved = await stores.sessions.change_state(webinar, WebinarState.LIVE, priya.id)
    assert moved is not None
    webinar = moved[0]
    timeline: list[tuple[int, float]] = [(moved[1].seq, 0.0)]   # (seq, seconds in): the events' times, set below
    for at, who, body in CHAT:
        event, _ = await services.stores.messages.append(webinar.room_id, members[who].id, f"demo-past-{at}", body)
        timeline.append((event.seq, at))
    question, event = await stores.questions.ask(webinar.id, webinar.room_id, tomas.id,
                                                 "How often should supervision happen in a crisis?", False)
    timeline.append((event.seq, 2.5))
    _, event = await stores.questions.set_state(question, webinar.room_id, QuestionState.ANSWERED, priya.id)
    timeline.append((event.seq, 6.5))
    poll, event = await stores.polls.create(webinar.id, webinar.room_id, priya.id,
                                            "Do your counsellors have regular supervision?",
                                            ["Yes, weekly", "Now and then", "Not yet"])
    timeline.append((event.seq, 1200.0))
    for member, option in ((amina, 0), (tomas, 1), (kofi, 2)):
        _, event = await stores.polls.vote(poll, webinar.room_id, member.id, option)
        if event is not None:
            timeline.append((event.seq, 1230.0))
    _, event = await stores.polls.close(poll, webinar.room_id, priya.id)
    if event is not None:
        timeline.append((event.seq, 1500.0))
    ended = await stores.sessions.change_state(webinar, WebinarState.ENDED, priya.id)
    assert ended is not None
    timeline.append((ended[1].seq, 3000.0))
    await _took_place(services, webinar, began, timeline, question.id, poll.id,
                      [m.id for m in (priya, amina, tomas, kofi)])
    # The hosts' summary: how many had it open, every five minutes.
    for step, viewers in enumerate((2, 3, 4, 4, 4, 3, 4, 4, 3, 2, 2)):
        await stores.summary.record_viewers([(webinar.id, viewers)], began + timedelta(minutes=5 * step), "demo")
    await _recording(services, webinar, began, priya, [priya.id, amina.id])


async def _took_place(services: Services, webinar: Webinar, began: datetime, timeline: list[tuple[int, float]],
                      question_id: int, poll_id: int, attendees: list[int]) -> None:
    """Moves what was just written to the time the webinar took place (only the demo rewrites times)."""
    def at(seconds: float) -> datetime:
        return began + timedelta(seconds=seconds)

    async with services.stores.db.write() as conn:
        await conn.execute(update(webinars).where(webinars.c.id == webinar.id)
                           .values(started_at=began, ended_at=at(3000)))
        for seq, seconds in timeline:
            await conn.execute(update(messages).where(messages.c.room_id == webinar.room_id, messages.c.seq == seq)
                               .values(created_at=at(seconds)))
        await conn.execute(update(webinar_questions).where(webinar_questions.c.id == question_id)
                           .values(created_at=at(2.5)))
        await conn.execute(update(webinar_polls).where(webinar_polls.c.id == poll_id)
                           .values(created_at=at(1200), closed_at=at(1500)))
        await conn.execute(insert(webinar_attendance), [
            dict(webinar_id=webinar.id, member_id=member_id, joined_at=at(-120 + 30 * i), left_at=at(2900 - 60 * i))
            for i, member_id in enumerate(attendees)])


async def _recording(services: Services, webinar: Webinar, began: datetime, owner: Member,
                     presenters: list[int]) -> None:
    work = Path(tempfile.mkdtemp(prefix="convene-demo-clip-"))
    try:
        clip = synthetic_file(work / "session.mp4", seconds=CLIP_S)
        key = services.recordings.new_upload_key()
        with open(clip, "rb") as data:
            services.recordings.store_upload(key, data)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    recording, _ = await services.recordings.stores.catalogue.create(
        title=webinar.title, description=webinar.description, language=webinar.language,
        visibility=RecordingVisibility.PUBLIC, webinar_id=webinar.id, room_id=webinar.room_id, owner_id=owner.id,
        recorded_at=began, ended_at=began + timedelta(seconds=CLIP_S), source_kind=SourceKind.UPLOAD, source=key,
        tags=["supervision", "lay counsellors"], presenter_ids=presenters)
    # The archive's own job, as a server's worker would run it.
    while await services.recordings.worker.run_one():
        pass
    job = await services.recordings.job(recording.id)
    if job is None or job.state is not JobState.READY:
        raise RuntimeError(f"the demo recording was not made: {job.error if job else 'no job'}")
    for (language, label), lines in CAPTIONS.items():
        cues = "".join(f"{i + 1}\n00:00:{2 * i + 0.5:06.3f} --> 00:00:{2 * i + 2.3:06.3f}\n{line}\n\n"
                       for i, line in enumerate(lines))
        await services.recordings.add_caption(owner, recording.id, language, label, ("WEBVTT\n\n" + cues).encode())
