"""Webinars over HTTP: sessions, registration, state, attendance, the .ics file, Q&A, hands, polls and moderation."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import (
    current_member,
    json,
    member_endpoint,
    optional_member,
    read_body,
    services_of,
)
from rooms.models import Member
from rooms.store.schema import utcnow
from rooms.webinars.ics import calendar
from rooms.webinars.models import QuestionState, WebinarVisibility

Short = Annotated[StrictStr, Field(max_length=500)]
MemberId = Annotated[StrictInt, Field(gt=0)]


class NewWebinar(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    description: Annotated[StrictStr, Field(max_length=5000)] = ""
    language: Annotated[StrictStr, Field(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=16)] = "en"
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    visibility: Literal["public", "members"] = "members"
    anonymous_questions: StrictBool = False
    record: StrictBool = True   # False: the host opts out of the automatic recording


class NewQuestion(BaseModel):
    body: Annotated[StrictStr, Field(max_length=10_000)]
    anonymous: StrictBool = False


class QuestionChange(BaseModel):
    state: Literal["answered", "dismissed"]


class HandBody(BaseModel):
    raised: StrictBool


class Target(BaseModel):
    member_id: MemberId


class MuteBody(BaseModel):
    member_id: MemberId
    muted: StrictBool


class NewPoll(BaseModel):
    question: Short
    options: Annotated[list[Short], Field(max_length=50)]


class Ballot(BaseModel):
    option: Annotated[StrictInt, Field(ge=0)]


def webinar_id(request: Request) -> int:
    """The webinar a route names (`{webinar_id:int}`)."""
    return request.path_params["webinar_id"]


# Sessions.

async def webinars(request: Request) -> Response:
    sessions = services_of(request).webinars.sessions
    if request.method == "POST":
        member = await current_member(request)
        body = await read_body(request, NewWebinar)
        webinar = await sessions.create(
            member, title=body.title, description=body.description, language=body.language,
            starts_at=body.starts_at, ends_at=body.ends_at, visibility=WebinarVisibility(body.visibility),
            anonymous_questions=body.anonymous_questions, record=body.record)
        return json((await sessions.seat(member, webinar.id)).public(), status=201)
    member = await optional_member(request)
    return json({"webinars": [w.public() for w in await sessions.listing(member)]})


async def webinar_detail(request: Request) -> Response:
    sessions = services_of(request).webinars.sessions
    member = await optional_member(request)
    if member is None:
        return json({**(await sessions.visible(None, webinar_id(request))).public(), "role": None, "registered": False})
    seat = await sessions.seat(member, webinar_id(request))
    people = await sessions.people(member, webinar_id(request))
    return json({**seat.public(), "people": [{**m.brief(), "role": role.value, "muted": muted}
                                             for m, role, muted in people]})


async def webinar_ics(request: Request) -> Response:
    webinar = await services_of(request).webinars.sessions.visible(await optional_member(request), webinar_id(request))
    url = str(request.url_for("webinar_detail", webinar_id=webinar.id))
    text = calendar(webinar, domain=request.url.hostname or "convene", url=url, now=utcnow())
    return Response(text, media_type="text/calendar; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="webinar-{webinar.id}.ics"'})


@member_endpoint
async def register(request: Request, member: Member) -> Response:
    seat = await services_of(request).webinars.sessions.register(member, webinar_id(request))
    return json(seat.public())


@member_endpoint
async def state_change(request: Request, member: Member) -> Response:
    sessions = services_of(request).webinars.sessions
    move = sessions.start if request.url.path.endswith("/start") else sessions.end
    return json((await move(member, webinar_id(request))).public())


@member_endpoint
async def panelists(request: Request, member: Member) -> Response:
    body = await read_body(request, Target)
    await services_of(request).webinars.sessions.add_panelist(member, webinar_id(request), body.member_id)
    return Response(status_code=204)


# Attendance.

@member_endpoint
async def join(request: Request, member: Member) -> Response:
    joined_at = await services_of(request).webinars.sessions.join(member, webinar_id(request))
    return json({"joined_at": joined_at.isoformat()})


@member_endpoint
async def leave(request: Request, member: Member) -> Response:
    left = await services_of(request).webinars.sessions.leave(member, webinar_id(request))
    return json({"left": left})


@member_endpoint
async def attendance(request: Request, member: Member) -> Response:
    report = await services_of(request).webinars.sessions.attendance_report(member, webinar_id(request))
    return json({"attendance": [a.public() for a in report]})


# Q&A.

@member_endpoint
async def questions(request: Request, member: Member) -> Response:
    service = services_of(request).webinars.questions
    if request.method == "POST":
        body = await read_body(request, NewQuestion)
        question = await service.ask(member, webinar_id(request), body.body, body.anonymous)
        return json(question.public(), status=201)
    return json({"questions": [q.public() for q in await service.listing(member, webinar_id(request))]})


@member_endpoint
async def upvote(request: Request, member: Member) -> Response:
    question, counted = await services_of(request).webinars.questions.upvote(
        member, webinar_id(request), request.path_params["question_id"])
    return json({**question.public(), "counted": counted})


@member_endpoint
async def moderate_question(request: Request, member: Member) -> Response:
    body = await read_body(request, QuestionChange)
    question = await services_of(request).webinars.questions.moderate(
        member, webinar_id(request), request.path_params["question_id"], QuestionState(body.state))
    return json(question.public())


# Hands and speakers.

@member_endpoint
async def hands(request: Request, member: Member) -> Response:
    stage = services_of(request).webinars.stage
    if request.method == "POST":
        body = await read_body(request, HandBody)
        changed = await stage.hand(member, webinar_id(request), body.raised)
        return json({"raised": body.raised, "changed": changed})
    return json({"hands": [m.brief() for m in await stage.raised(member, webinar_id(request))]})


@member_endpoint
async def lower_hand(request: Request, member: Member) -> Response:
    await services_of(request).webinars.stage.lower(member, webinar_id(request), request.path_params["member_id"])
    return Response(status_code=204)


@member_endpoint
async def speakers(request: Request, member: Member) -> Response:
    stage = services_of(request).webinars.stage
    if request.method == "POST":
        body = await read_body(request, Target)
        await stage.promote(member, webinar_id(request), body.member_id)
    else:
        await stage.demote(member, webinar_id(request), request.path_params["member_id"])
    return Response(status_code=204)


# Moderation.

@member_endpoint
async def mute(request: Request, member: Member) -> Response:
    body = await read_body(request, MuteBody)
    changed = await services_of(request).webinars.moderation.mute(member, webinar_id(request), body.member_id, body.muted)
    return json({"member_id": body.member_id, "muted": body.muted, "changed": changed})


@member_endpoint
async def remove(request: Request, member: Member) -> Response:
    body = await read_body(request, Target)
    changed = await services_of(request).webinars.moderation.remove(member, webinar_id(request), body.member_id)
    return json({"member_id": body.member_id, "removed": True, "changed": changed})


# Polls.

@member_endpoint
async def polls(request: Request, member: Member) -> Response:
    service = services_of(request).webinars.polls
    if request.method == "POST":
        body = await read_body(request, NewPoll)
        poll = await service.create(member, webinar_id(request), body.question, body.options)
        return json(poll.public(), status=201)
    return json({"polls": [p.public() for p in await service.listing(member, webinar_id(request))]})


@member_endpoint
async def vote(request: Request, member: Member) -> Response:
    body = await read_body(request, Ballot)
    poll = await services_of(request).webinars.polls.vote(member, webinar_id(request), request.path_params["poll_id"],
                                                          body.option)
    return json(poll.public())


@member_endpoint
async def close_poll(request: Request, member: Member) -> Response:
    poll = await services_of(request).webinars.polls.close(member, webinar_id(request), request.path_params["poll_id"])
    return json(poll.public())


_base = "/api/webinars/{webinar_id:int}"
routes = [
    Route("/api/webinars", webinars, methods=["GET", "POST"]),
    Route(_base, webinar_detail, methods=["GET"], name="webinar_detail"),
    Route(_base + ".ics", webinar_ics, methods=["GET"]),
    Route(_base + "/register", register, methods=["POST"]),
    Route(_base + "/start", state_change, methods=["POST"]),
    Route(_base + "/end", state_change, methods=["POST"]),
    Route(_base + "/panelists", panelists, methods=["POST"]),
    Route(_base + "/join", join, methods=["POST"]),
    Route(_base + "/leave", leave, methods=["POST"]),
    Route(_base + "/attendance", attendance, methods=["GET"]),
    Route(_base + "/questions", questions, methods=["GET", "POST"]),
    Route(_base + "/questions/{question_id:int}/upvote", upvote, methods=["POST"]),
    Route(_base + "/questions/{question_id:int}", moderate_question, methods=["PATCH"]),
    Route(_base + "/hands", hands, methods=["GET", "POST"]),
    Route(_base + "/hands/{member_id:int}", lower_hand, methods=["DELETE"]),
    Route(_base + "/speakers", speakers, methods=["POST"]),
    Route(_base + "/speakers/{member_id:int}", speakers, methods=["DELETE"]),
    Route(_base + "/mute", mute, methods=["POST"]),
    Route(_base + "/remove", remove, methods=["POST"]),
    Route(_base + "/polls", polls, methods=["GET", "POST"]),
    Route(_base + "/polls/{poll_id:int}/vote", vote, methods=["POST"]),
    Route(_base + "/polls/{poll_id:int}/close", close_poll, methods=["POST"]),
]
