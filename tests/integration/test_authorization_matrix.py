"""Who may do what: every HTTP route and every socket frame type of the app, for every role, on both backends.

The table below (ROWS) names each route as the app declares it and each frame type, with what every
role gets (tests/support/authz.py: the row format and the roles). One test makes sure the table lists
exactly the routes and frames the app has: a new route or frame without rows fails it, so the next
feature adds its rows here (or keeps them in its own test module as AUTHZ_ROWS, listed in ROW_MODULES).
Another plays every row against one real server per backend, with one cast of members set up once.

Roles are relative to the row's context: the public room (default), a private room, an emergency
room, a scheduled webinar, a live webinar, or an imported recording. The same seven accounts play the
same parts in each: the owner owns it (hosts the webinar, imported the recording), the moderator
moderates it (coordinates the emergency, is on the webinar's panel), member, muted and banned belong
to it (the last two muted and banned in its room), the non-member and the site admin do not belong to it.
HEAD answers like GET (Starlette adds it to every GET route), so GET rows stand for both.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import re
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Mount, Route, WebSocketRoute

from realtime.app import create_app
from realtime.frames import all_frames
from realtime.settings import Settings
from tests.support.authz import ROLES, Row, expect, staff
from tests.support.client import Api, ChatClient
from tests.support.moderation import admin_command
from tests.support.recording_sources import synthetic_file

# Feature test modules that keep their rows beside their tests, as a list named AUTHZ_ROWS.
ROW_MODULES: tuple[str, ...] = ()

PASSWORD = "correct horse"
STARTS = datetime(2026, 12, 20, 12, 0, tzinfo=timezone.utc)
MEMBERS = ("non_member", "member", "muted", "banned", "moderator", "owner", "site_admin")
_unique = itertools.count(1)


def logged_in(ok: int | str, *, anonymous: int | str = 401, **by_role: int | str) -> dict[str, int | str]:
    """Every logged-in role gets `ok`."""
    return expect(ok, **{"anonymous": anonymous, **by_role})


def readers(ok: int | str, anonymous: int | str = 401) -> dict[str, int | str]:
    """Who may read the public room: anyone logged in but the banned member."""
    return expect(ok, anonymous=anonymous, banned=403)


def in_room(ok: int | str, outsider: int | str = 404, *, anonymous: int | str = 401,
            **by_role: int | str) -> dict[str, int | str]:
    """Members of a private space (an emergency, a private room): everyone else is told it does not exist."""
    return expect(ok, **{"anonymous": anonymous, "non_member": outsider, "banned": outsider, "site_admin": outsider,
                         **by_role})


def coordinators(ok: int | str, *, member: int | str = 403, outsider: int | str = 404,
                 anonymous: int | str = 401) -> dict[str, int | str]:
    return in_room(ok, outsider, anonymous=anonymous, **{"member": member, "muted": member})


def page(ok: int | str, **by_role: int | str) -> dict[str, int | str]:
    """A page for members: a visitor is sent to log in (303)."""
    return expect(ok, **{"anonymous": 303, **by_role})


# Values computed for each role while the table plays (tests/support/authz.py: Given).

async def victim_id(w: World, role: str, ctx: dict) -> dict:
    return {"member_id": (await w.victim(ctx)).id}


async def banned_victim_id(w: World, role: str, ctx: dict) -> dict:
    return {"member_id": (await w.victim(ctx, restrict="bans")).id}


async def muted_victim_id(w: World, role: str, ctx: dict) -> dict:
    return {"member_id": (await w.victim(ctx, restrict="mutes")).id}


async def victim_body(w: World, role: str, ctx: dict) -> dict:
    return {"member_id": (await w.victim(ctx)).id}


async def registered_victim_body(w: World, role: str, ctx: dict) -> dict:
    return {"member_id": (await w.victim(ctx)).id}


async def fresh_report(w: World, role: str, ctx: dict) -> dict:
    return {"report_id": await w.report(ctx)}


async def members_message(w: World, role: str, ctx: dict) -> dict:
    said = await w.sockets["member"].say(ctx["room_id"], f"to be deleted {next(_unique)}")
    return {"type": "delete", "room": ctx["room_id"], "target": said["seq"]}


async def own_entry(w: World, role: str, ctx: dict) -> dict:
    """A 4W entry of the member's, for each role to try to change."""
    return {"entry_id": await w.fourw_entry(ctx, "member")}


async def current_sitrep(w: World, role: str, ctx: dict) -> dict:
    current = (await w.people["owner"].http.get(f"/api/emergencies/{ctx['room_id']}/sitrep")).json()["sitrep"]
    return {"title": "Day 2", "body": "Roads open.", "base_version": current["version"] if current else 0}


async def new_poll(w: World, role: str, ctx: dict) -> dict:
    return {"poll_id": await w.poll(ctx)}


def creator_id(w: World, role: str, ctx: dict) -> dict:
    """The webinar's creator and only host: removing them is refused to everyone (a webinar keeps a host)."""
    return {"member_id": w.people["owner"].id}


async def victims_group(w: World, role: str, ctx: dict) -> dict:
    """Breakout groups by hand: one group of one registrant, for ten minutes."""
    return {"groups": [[(await w.victim(ctx)).id]], "duration_s": 600}


def fresh_credentials(w: World, role: str, ctx: dict) -> dict:
    name = f"r{uuid.uuid4().hex[:10]}"
    return {"username": name, "password": PASSWORD, "display_name": name}


def login_credentials(w: World, role: str, ctx: dict) -> dict:
    return {"username": w.login.member["username"], "password": PASSWORD}


def other_member(w: World, role: str, ctx: dict) -> dict:
    return {"members": [w.login.id]}


def restrict_victim_form(kind: str):
    async def form(w: World, role: str, ctx: dict) -> dict:
        victim = await w.victim(ctx)
        return {"username": victim.member["username"], "kind": kind, "minutes": "5", "reason": "matrix"}
    return form


async def owners_upload(w: World, role: str, ctx: dict) -> dict:
    """The owner's upload in progress: a fresh one for the owner's own turn (the row ends it), the context's
    for everyone else (refused; at most ATTACHMENT_UPLOADS_PER_MEMBER may be in progress)."""
    return {"token": await w.upload(ctx) if role == "owner" else ctx["token"]}


async def owners_unsent_file(w: World, role: str, ctx: dict) -> dict:
    return {"attachment_id": await w.attachment(ctx) if role == "owner" else ctx["unsent"]}


async def spare_file_send(w: World, role: str, ctx: dict) -> dict:
    """A send naming a file the owner uploaded and has not sent: only the owner may send it."""
    return {"type": "send", "room": ctx["room_id"], "client_id": uuid.uuid4().hex,
            "attachments": [await w.attachment(ctx)]}


FORGED_TOKEN = "WzEsIm5vdGlmaWNhdGlvbnMiXQ.forged"


# A browser's subscription: an endpoint on an accepted push service, a P-256 public key, a 16-byte secret.
P256_KEY = "BNLgcOuH-yHulvj0QTVj-sCfBrjViYhGH3mfyB6i-ijSE03GOGNorRHf-U--1qiWDzClkzzhlX91f4EXgSBmFSA"


def push_endpoint(role: str) -> str:
    return f"https://updates.push.services.mozilla.com/wpush/v2/matrix-{role}"


def push_subscription(role: str) -> dict:
    return {"endpoint": push_endpoint(role), "keys": {"p256dh": P256_KEY, "auth": "A" * 22}}


TUS = {"Tus-Resumable": "1.0.0"}
NOTE = {"file": ("note.txt", b"Referral pathway: clinic first.", "text/plain")}
ALERT = {"client_id": "matrix-alert", "body": "Evacuate the lower clinic"}
FOURW = {"organisation": "Red Crescent", "activity": "Psychological first aid", "layer": "focused_non_specialised",
         "country": "PH", "admin_area": "Leyte", "start_date": "2026-11-02"}
FOURW_CSV = ("organisation,activity,layer,country,admin_area,start_date,end_date\r\n"
             "Red Cross,Child friendly spaces,community_family,PH,Leyte,2026-11-03,\r\n").encode()
WEBINAR = {"title": "Matrix webinar", "starts_at": STARTS.isoformat(),
           "ends_at": (STARTS + timedelta(hours=1)).isoformat()}


ROWS: list[Row] = [
    # Health, metrics (loopback: the test client), the service worker, static files.
    Row("GET /healthz", expect(200)),
    Row("GET /readyz", expect(200)),
    Row("GET /metrics", expect(200), note="answered on loopback only, or with METRICS_TOKEN"),
    Row("GET /sw.js", expect(200)),
    Row("GET /static", expect(200), params={"path": "style.css"}),
    Row("WS /ws", expect("ok", anonymous="unauthenticated")),

    # Accounts.
    Row("POST /api/auth/register", expect(201), body=fresh_credentials),
    Row("POST /api/auth/login", expect(200), body=login_credentials),
    Row("POST /api/auth/logout", logged_in(204), note="a bearer token outlives it: only the cookie's session ends"),
    Row("POST /api/auth/token", expect(201), body=login_credentials),
    Row("GET /api/me", logged_in(200)),
    Row("PATCH /api/me", logged_in(200), body={"bio": "Counsellor"}),
    # Members' data (docs/privacy.md): one's own export; deleting one's account needs the password, so a
    # wrong one is what every role can try here (the real deletion: tests/integration/test_members_data.py).
    Row("GET /api/me/export", logged_in(200)),
    Row("DELETE /api/me", logged_in(403), body={"password": "not the password"},
        note="403 names the password field; the right password deletes the account"),
    Row("GET /api/members", logged_in(200)),
    Row("GET /api/members/{member_id:int}", logged_in(200)),
    Row("GET /api/me/notifications", logged_in(200)),
    Row("PUT /api/me/notifications", logged_in(200), body={"email": "someone@example.org"}),

    # Rooms (the public room).
    Row("GET /api/rooms", logged_in(200)),
    Row("POST /api/rooms", logged_in(201), body={"name": "Another room"}),
    Row("GET /api/rooms/{room_id:int}", readers(200)),
    Row("POST /api/rooms/{room_id:int}/join", readers(200), fresh=True),
    Row("POST /api/rooms/{room_id:int}/leave", in_room(204, 403, owner=422), fresh="each",
        note="the last owner of a room with members hands it over first"),
    Row("POST /api/rooms/{room_id:int}/invite", in_room(204, 403), body=lambda w, r, c: {"member_id": w.login.id}),
    Row("GET /api/rooms/{room_id:int}/members", readers(200)),
    Row("POST /api/rooms/{room_id:int}/members/{member_id:int}/role", staff(204, moderator=403),
        params=victim_id, body={"role": "moderator"}, note="owners (and site admins) change roles"),
    Row("DELETE /api/rooms/{room_id:int}/members/{member_id:int}", staff(204), params=victim_id,
        note="a kick"),
    Row("GET /api/rooms/{room_id:int}/messages", readers(200)),
    Row("GET /api/rooms/{room_id:int}/messages", in_room(200, banned=403), context="private",
        note="a banned member knew the room: they are told they are banned"),
    Row("POST /api/dms", logged_in(201), body=other_member),
    Row("GET /api/search", logged_in(200), query={"q": "matrix"},
        note="everyone logged in, over the rooms they belong to (not those they are banned from)"),
    Row("GET /api/rooms/{room_id:int}/pins", readers(200)),
    Row("GET /api/rooms/{room_id:int}/pins", in_room(200, banned=403), context="private"),

    # Moderation (the public room, unless said).
    Row("GET /api/rooms/{room_id:int}/bans", staff(200)),
    Row("POST /api/rooms/{room_id:int}/bans", staff(201), body=victim_body),
    Row("POST /api/rooms/{room_id:int}/bans", staff(201, 403, non_member=404), body=victim_body, context="private",
        note="a private room's outsiders are told it does not exist"),
    Row("DELETE /api/rooms/{room_id:int}/bans/{member_id:int}", staff(204), params=banned_victim_id),
    Row("GET /api/rooms/{room_id:int}/mutes", staff(200)),
    Row("POST /api/rooms/{room_id:int}/mutes", staff(201), body=lambda w, r, c: w.victim_mute(c)),
    Row("DELETE /api/rooms/{room_id:int}/mutes/{member_id:int}", staff(204), params=muted_victim_id),
    Row("PUT /api/rooms/{room_id:int}/slow-mode", staff(200), body={"seconds": 0}),
    Row("PUT /api/rooms/{room_id:int}/retention", logged_in(403, owner=200), body={"days": None},
        note="owners only: how long the room keeps messages is theirs to decide, not a moderator's or an admin's"),
    Row("GET /api/rooms/{room_id:int}/reports", staff(200)),
    Row("POST /api/rooms/{room_id:int}/reports", readers(201) | {"owner": 422},
        body=lambda w, r, c: {"seq": c["owner_seq"], "reason": "matrix"},
        note="any reader reports a message; not their own (the owner wrote this one)"),
    Row("POST /api/rooms/{room_id:int}/reports/{report_id:int}/resolve", staff(200), params=fresh_report,
        body={"action": "dismiss"}),
    Row("GET /api/rooms/{room_id:int}/audit", staff(200)),
    Row("GET /api/rooms/{room_id:int}/audit", staff(200, 403, non_member=404), context="emergency"),
    Row("GET /api/admin/reports", expect(403, anonymous=401, site_admin=200)),
    Row("GET /api/admin/members", expect(403, anonymous=401, site_admin=200), query={"q": "m"}),
    Row("POST /api/admin/members/{member_id:int}/suspension", expect(403, anonymous=401, site_admin=201),
        params=victim_id, body={"reason": "matrix"}),
    Row("DELETE /api/admin/members/{member_id:int}/suspension", expect(403, anonymous=401, site_admin=204),
        params=victim_id),

    # Pages.
    Row("GET /", expect(303)),
    Row("GET /login", expect(303, anonymous=200)),
    Row("POST /login", expect(303), form=login_credentials),
    Row("GET /register", expect(303, anonymous=200)),
    Row("POST /register", expect(303), form=fresh_credentials),
    Row("POST /logout", expect(303)),
    Row("GET /settings", page(200)),
    Row("POST /settings", page(303), form={"display_name": "Matrix", "theme": "dark"}),
    Row("GET /keyboard", expect(200), note="the keyboard shortcuts: the same list for everyone"),
    Row("GET /settings/delete", page(200)),
    Row("POST /settings/delete", page(403), form={"password": "not the password"},
        note="the page says the password is not right; the right one deletes the account"),
    Row("GET /rooms", page(200)),
    Row("POST /rooms/new", page(303), form={"name": "From the page"}),
    Row("GET /rooms/{room_id:int}", page(200, banned=403)),
    Row("POST /rooms/{room_id:int}/join", page(303, banned=403), fresh=True),
    Row("GET /dms", page(200)),
    Row("GET /search", page(200), query={"q": "matrix"}),
    Row("GET /members", page(200)),
    Row("GET /members/{member_id:int}", page(200)),
    Row("POST /members/{member_id:int}/message", page(303), params=lambda w, r, c: {"member_id": w.login.id}),
    Row("GET /rooms/{room_id:int}/moderation", staff(200, anonymous=303)),
    Row("POST /rooms/{room_id:int}/moderation/reports/{report_id:int}", staff(303, anonymous=303),
        params=fresh_report, form={"action": "dismiss"}),
    Row("POST /rooms/{room_id:int}/moderation/restrictions", staff(303, anonymous=303),
        form=restrict_victim_form("mute")),
    Row("POST /rooms/{room_id:int}/moderation/restrictions/{member_id:int}/lift", staff(303, anonymous=303),
        params=muted_victim_id, form={"kind": "mute"}),
    Row("POST /rooms/{room_id:int}/moderation/slow-mode", staff(303, anonymous=303), form={"seconds": "0"}),
    Row("GET /rooms/{room_id:int}/messages/{seq:int}/report", page(200, banned=403),
        params=lambda w, r, c: {"seq": c["owner_seq"]}),
    Row("POST /rooms/{room_id:int}/messages/{seq:int}/report", page(200, banned=403, owner=422),
        params=lambda w, r, c: {"seq": c["owner_seq"]}, form={"reason": "from the page"}),
    Row("GET /admin", expect(403, anonymous=303, site_admin=200)),
    Row("POST /admin/members/{member_id:int}/suspend", expect(403, anonymous=303, site_admin=303),
        params=victim_id, form={"reason": "matrix"}),
    Row("POST /admin/members/{member_id:int}/unsuspend", expect(403, anonymous=303, site_admin=303),
        params=victim_id, form={"reason": ""}),

    # Notifications (the member's own; a forged token is nobody's).
    Row("GET /api/notifications", logged_in(200)),
    Row("GET /api/notifications/counts", logged_in(200)),
    Row("POST /api/notifications/read", logged_in(200), body={"ids": [1]}),
    Row("POST /api/notifications/read-all", logged_in(200)),
    Row("GET /api/me/preferences", logged_in(200)),
    Row("PUT /api/me/preferences", logged_in(200), body={"email_timing": "hourly"}),
    Row("PUT /api/rooms/{room_id:int}/notifications", in_room(200, 403, banned=403), body={"level": "mentions"},
        note="a room's notification level is for its members"),
    Row("PUT /api/rooms/{room_id:int}/notifications", in_room(200, banned=403), context="private",
        body={"level": "mentions"}),
    Row("GET /api/push/key", expect(200), note="the server's public VAPID key: public by design"),
    Row("POST /api/push/subscriptions", logged_in(201), body=lambda w, r, c: push_subscription(r)),
    Row("DELETE /api/push/subscriptions", logged_in(204), body=lambda w, r, c: {"endpoint": push_endpoint(r)}),
    Row("GET /notifications", page(200)),
    Row("POST /notifications", page(303), form={"all": "1"}),
    Row("GET /settings/notifications", page(200)),
    Row("POST /settings/notifications", page(303), form={"email_timing": "daily"}),
    Row("GET /unsubscribe/{token}", expect(404), params={"token": FORGED_TOKEN}),
    Row("POST /unsubscribe/{token}", expect(404), params={"token": FORGED_TOKEN}),
    Row("GET /settings/email/verify/{token}", expect(400), params={"token": FORGED_TOKEN},
        note="a verification link that is not one: refused for everyone"),

    # Attachments (the private room; the owner sent one file, has one not sent yet and one upload in progress).
    Row("POST /api/rooms/{room_id:int}/attachments", in_room(201, banned=403, muted=403), context="private",
        files=NOTE, note="a muted member adds nothing to the room, files included"),
    Row("POST /api/rooms/{room_id:int}/attachments", in_room(201, banned=403, muted=403), context="private",
        headers={**TUS, "Upload-Length": "10"}, note="a resumable (tus) upload's creation"),
    Row("OPTIONS /api/rooms/{room_id:int}/attachments", expect(204), context="private", note="tus discovery"),
    Row("GET /api/uploads/{token:str}", expect(404, anonymous=401, owner=200), context="private",
        note="an upload is its owner's alone; anyone else's is not found"),
    Row("HEAD /api/uploads/{token:str}", expect(404, anonymous=401, owner=200), context="private", headers=TUS),
    Row("PATCH /api/uploads/{token:str}", expect(404, anonymous=401, owner=204), context="private",
        params=owners_upload, content=(b"0123456789", "application/offset+octet-stream"),
        headers={**TUS, "Upload-Offset": "0"}),
    Row("DELETE /api/uploads/{token:str}", expect(404, anonymous=401, owner=204), context="private",
        params=owners_upload, headers=TUS),
    Row("OPTIONS /api/uploads/{token:str}", expect(204), context="private"),
    Row("GET /api/attachments/{attachment_id:int}", in_room(200, banned=403), context="private",
        params=lambda w, r, c: {"attachment_id": c["sent"]}),
    Row("DELETE /api/attachments/{attachment_id:int}", expect(404, anonymous=401, owner=204), context="private",
        params=owners_unsent_file, note="only its owner removes a file not yet sent"),
    Row("GET /api/attachments/{attachment_id:int}/{variant:str}", in_room(303, banned=403), context="private",
        params=lambda w, r, c: {"attachment_id": c["sent"], "variant": "file"}),
    Row("GET /media/attachments/{attachment_id:int}/{variant:str}", expect(403), context="private",
        params=lambda w, r, c: {"attachment_id": c["sent"], "variant": "file"}, note="unsigned: nobody"),
    Row("GET /media/attachments/{attachment_id:int}/{variant:str}", expect(200), context="private",
        params=lambda w, r, c: {"attachment_id": c["sent"], "variant": "file"},
        query=lambda w, r, c: c["signature"], note="a signed URL is a capability, whoever holds it"),
    Row("frame send", expect("not_found", anonymous="unauthenticated", owner="ok"), context="private",
        frame=spare_file_send, note="a message carries only its sender's own files"),

    # Emergency rooms.
    Row("GET /api/emergencies", logged_in(200)),
    Row("GET /api/emergencies/awaiting", logged_in(200),
        note="each member's own count (null for those in no emergency room), asked with no room"),
    Row("POST /api/emergencies", logged_in(201),
        body={"name": "Floods", "region": "Sindh", "started_on": "2026-11-01"}),
    Row("GET /api/emergencies/{room_id:int}", in_room(200), context="emergency"),
    Row("PATCH /api/emergencies/{room_id:int}", coordinators(200), context="emergency",
        body={"region": "Eastern Visayas"}),
    Row("GET /api/emergencies/{room_id:int}/members", in_room(200), context="emergency"),
    Row("POST /api/emergencies/{room_id:int}/members", coordinators(204), context="emergency",
        body=lambda w, r, c: {"member_id": w.login.id}),
    Row("GET /api/emergencies/{room_id:int}/alerts", in_room(200), context="emergency"),
    Row("POST /api/emergencies/{room_id:int}/alerts", coordinators(201), context="emergency",
        body=lambda w, r, c: {**ALERT, "client_id": f"matrix-{next(_unique)}"}),
    Row("GET /api/emergencies/{room_id:int}/alerts/pending", in_room(200), context="emergency"),
    Row("GET /api/emergencies/{room_id:int}/alerts/{seq:int}", coordinators(200), context="emergency"),
    Row("POST /api/emergencies/{room_id:int}/alerts/{seq:int}/ack", in_room(201), context="emergency"),
    Row("GET /api/emergencies/{room_id:int}/sitrep", in_room(200), context="emergency"),
    Row("POST /api/emergencies/{room_id:int}/sitrep", coordinators(201), context="emergency", body=current_sitrep),
    Row("GET /api/emergencies/{room_id:int}/sitreps", in_room(200), context="emergency"),
    Row("GET /api/emergencies/{room_id:int}/sitreps/{version:int}", in_room(200), context="emergency"),
    Row("GET /api/emergencies/{room_id:int}/fourw", in_room(200), context="emergency"),
    Row("POST /api/emergencies/{room_id:int}/fourw", in_room(201), context="emergency", body=FOURW),
    Row("GET /api/emergencies/{room_id:int}/fourw.csv", in_room(200), context="emergency"),
    Row("POST /api/emergencies/{room_id:int}/fourw/import", coordinators(201), context="emergency",
        content=(FOURW_CSV, "text/csv")),
    Row("GET /api/emergencies/{room_id:int}/fourw/gaps", in_room(200), context="emergency"),
    Row("PATCH /api/emergencies/{room_id:int}/fourw/{entry_id:int}",
        coordinators(200, member=403) | {"member": 200}, context="emergency", params=own_entry,
        body={"end_date": "2026-12-31"}, note="the entry's author and coordinators"),
    Row("DELETE /api/emergencies/{room_id:int}/fourw/{entry_id:int}",
        coordinators(204, member=403) | {"member": 204}, context="emergency", params=own_entry),
    Row("GET /api/emergencies/{room_id:int}/digest", in_room(200), context="emergency"),
    Row("POST /api/emergencies/{room_id:int}/digest", in_room(422), context="emergency",
        note="members get past the door and are told to verify a notification address first"),
    Row("GET /api/emergencies/{room_id:int}/audit.{format}", coordinators(200), context="emergency"),
    Row("GET /emergencies", page(200)),
    Row("POST /emergencies/new", page(303),
        form={"name": "Landslide", "region": "Leyte", "started_on": "2026-11-05"}),
    Row("GET /emergencies/{room_id:int}", in_room(200, anonymous=303), context="emergency"),
    Row("POST /emergencies/{room_id:int}/alerts", coordinators(303, anonymous=303), context="emergency",
        form={"body": "Stay indoors"}),
    Row("POST /emergencies/{room_id:int}/alerts/{seq:int}/ack", in_room(303, anonymous=303), context="emergency"),
    Row("POST /emergencies/{room_id:int}/fourw", in_room(303, anonymous=303), context="emergency", form=FOURW),
    Row("GET /emergencies/{room_id:int}/digest", in_room(200, anonymous=303), context="emergency"),

    # Webinars (scheduled, or live where the action needs it).
    Row("GET /api/webinars", expect(200)),
    Row("POST /api/webinars", logged_in(201), body=WEBINAR),
    Row("GET /api/webinars/{webinar_id:int}", logged_in(200, anonymous=404), context="webinar",
        note="a members-only webinar does not exist for visitors"),
    Row("GET /api/webinars/{webinar_id:int}.ics", logged_in(200, anonymous=404), context="webinar"),
    Row("POST /api/webinars/{webinar_id:int}/register", logged_in(200, banned=403), context="webinar", fresh=True),
    Row("POST /api/webinars/{webinar_id:int}/start", expect(403, anonymous=401, owner=200), context="webinar",
        fresh=True),
    Row("POST /api/webinars/{webinar_id:int}/end", expect(403, anonymous=401, owner=200), context="live",
        fresh=True),
    Row("POST /api/webinars/{webinar_id:int}/panelists", expect(403, anonymous=401, owner=204), context="webinar",
        body=registered_victim_body),
    Row("POST /api/webinars/{webinar_id:int}/join", logged_in(200, non_member=403, banned=403, site_admin=403),
        context="webinar"),
    Row("POST /api/webinars/{webinar_id:int}/leave", logged_in(200), context="webinar"),
    Row("GET /api/webinars/{webinar_id:int}/attendance", staff(200, site_admin=403), context="webinar"),
    Row("GET /api/webinars/{webinar_id:int}/questions", logged_in(200), context="webinar"),
    Row("POST /api/webinars/{webinar_id:int}/questions", logged_in(201, non_member=403, banned=403, site_admin=403),
        context="live", body={"body": "How do we adapt this for phone support?"}),
    Row("POST /api/webinars/{webinar_id:int}/questions/{question_id:int}/upvote",
        logged_in(200, non_member=403, banned=403, site_admin=403), context="live"),
    Row("PATCH /api/webinars/{webinar_id:int}/questions/{question_id:int}", staff(200, site_admin=403),
        context="live", body={"state": "answered"}),
    Row("GET /api/webinars/{webinar_id:int}/hands", logged_in(200), context="live"),
    Row("POST /api/webinars/{webinar_id:int}/hands", logged_in(200, non_member=403, banned=403, site_admin=403),
        context="live", body={"raised": True}),
    Row("DELETE /api/webinars/{webinar_id:int}/hands/{member_id:int}", staff(204, site_admin=403), context="live"),
    Row("POST /api/webinars/{webinar_id:int}/speakers", staff(204, site_admin=403), context="live",
        body=registered_victim_body),
    Row("DELETE /api/webinars/{webinar_id:int}/speakers/{member_id:int}", staff(204, site_admin=403),
        context="live"),
    Row("POST /api/webinars/{webinar_id:int}/mute", staff(200, site_admin=403), context="live",
        body=lambda w, r, c: w.webinar_mute(c)),
    Row("POST /api/webinars/{webinar_id:int}/remove", staff(200, site_admin=403), context="webinar",
        body=registered_victim_body),
    Row("GET /api/webinars/{webinar_id:int}/polls", logged_in(200), context="webinar"),
    Row("POST /api/webinars/{webinar_id:int}/polls", staff(201, site_admin=403), context="live",
        body={"question": "Useful?", "options": ["Yes", "No"]}),
    Row("POST /api/webinars/{webinar_id:int}/polls/{poll_id:int}/vote",
        logged_in(200, non_member=403, banned=403, site_admin=403), context="live", body={"option": 0}),
    Row("POST /api/webinars/{webinar_id:int}/polls/{poll_id:int}/close", staff(200, site_admin=403),
        context="live", params=new_poll),
    Row("PUT /api/webinars/{webinar_id:int}/record", expect(403, anonymous=401, owner=200), context="webinar",
        body={"record": True}),
    Row("GET /webinars", expect(200)),
    Row("GET /webinars/new", page(200)),
    Row("POST /webinars/new", page(303),
        form={"title": "From the page", "starts_at": "2026-12-20T12:00", "duration": "60", "language": "en",
              "visibility": "members"}),
    Row("GET /webinars/{webinar_id:int}", logged_in(200, anonymous=404), context="webinar"),
    Row("POST /webinars/{webinar_id:int}/register", page(303, banned=403), context="webinar", fresh=True),
    Row("POST /webinars/{webinar_id:int}/start", page(403, owner=303), context="webinar", fresh=True,
        form={"back": "live"}),
    Row("POST /webinars/{webinar_id:int}/end", page(403, owner=303), context="live", fresh=True, form={"back": ""}),
    Row("POST /webinars/{webinar_id:int}/panelists", page(403, owner=303), context="webinar",
        form=lambda w, r, c: w.victim_username_form(c)),
    Row("GET /webinars/{webinar_id:int}/live", page(200, non_member=303, banned=403, site_admin=303),
        context="live", note="the unregistered are sent to register; the live page shows the chat"),
    Row("GET /webinars/{webinar_id:int}/stream", logged_in(200, anonymous=404, non_member=403, site_admin=403),
        context="live", note="a ban from the webinar's room is a chat ban: the stream stays open"),
    Row("GET /api/webinars/{webinar_id:int}/stream", logged_in(200, anonymous=404, non_member=403, site_admin=403),
        context="live"),
    # The host's day (docs/webinars.md): the owner created the webinar and is its only host.
    Row("GET /api/webinars/{webinar_id:int}/hosts", logged_in(200), context="webinar"),
    Row("POST /api/webinars/{webinar_id:int}/hosts", expect(403, anonymous=401, owner=200), context="webinar",
        fresh=True, body=registered_victim_body, note="only the creator adds and removes hosts"),
    Row("DELETE /api/webinars/{webinar_id:int}/hosts/{member_id:int}", expect(403, anonymous=401, owner=409),
        context="webinar", params=creator_id, note="the creator may remove a host, but not the last one"),
    Row("GET /api/webinars/{webinar_id:int}/summary", expect(403, anonymous=401, owner=200), context="webinar",
        note="the hosts' summary is for hosts, not the panel"),
    Row("GET /api/webinars/{webinar_id:int}/summary.csv", expect(403, anonymous=401, owner=200), context="webinar"),
    Row("GET /api/webinars/{webinar_id:int}/breakouts", logged_in(200, non_member=403, site_admin=403),
        context="live", note="a ban from the webinar's room is a chat ban, as for media.watch"),
    Row("POST /api/webinars/{webinar_id:int}/breakouts", expect(403, anonymous=401, owner=201), context="live",
        fresh=True, body=victims_group, note="hosts only, while live"),
    Row("POST /api/webinars/{webinar_id:int}/breakouts/broadcast", expect(403, anonymous=401, owner=409),
        context="live", body={"body": "Two minutes left"}, note="hosts only; with no groups open the host is told so"),
    Row("POST /api/webinars/{webinar_id:int}/breakouts/close", expect(403, anonymous=401, owner=409),
        context="live", note="hosts only; with no groups open the host is told so"),
    Row("POST /webinars/{webinar_id:int}/hosts", page(403, owner=303), context="webinar", fresh=True,
        form=lambda w, r, c: w.victim_username_form(c)),
    Row("POST /webinars/{webinar_id:int}/hosts/{member_id:int}/remove", page(403, owner=409), context="webinar",
        params=creator_id),
    Row("GET /webinars/{webinar_id:int}/summary", page(403, owner=200), context="webinar"),
    Row("GET /webinars/{webinar_id:int}/live/{name:path}",
        logged_in(404, anonymous=404, non_member=403, site_admin=403), context="live", params={"name": "master.m3u8"},
        note="nothing is streamed until media flows: not found for those who may watch"),

    # Recordings (imported by the owner, for members).
    Row("GET /api/recordings", expect(200)),
    Row("POST /api/recordings/import", logged_in(422), body={"title": "not a form"},
        note="anyone logged in may import; a body that is not a multipart form is refused as such"),
    Row("GET /api/recordings/{recording_id:int}", logged_in(200), context="recording"),
    Row("PATCH /api/recordings/{recording_id:int}", expect(403, anonymous=401, owner=200), context="recording",
        body={"title": "Renamed"}),
    Row("POST /api/recordings/{recording_id:int}/captions", expect(403, anonymous=401, owner=201),
        context="recording", content=(b"WEBVTT\n\n00:00.000 --> 00:01.000\nHello\n", "text/vtt")),
    Row("PUT /api/recordings/{recording_id:int}/position", logged_in(204), context="recording",
        body={"position_s": 1.5}),
    Row("GET /api/recordings/{recording_id:int}/replay", logged_in(200), context="recording"),
    Row("POST /api/recordings/{recording_id:int}/invites", expect(403, anonymous=401, owner=200),
        context="recording", body=lambda w, r, c: {"member_id": w.login.id}),
    Row("POST /api/recordings/{recording_id:int}/retry", expect(403, anonymous=401, owner=409), context="recording",
        note="only a failed job is retried"),
    Row("GET /media/recordings/{recording_id:int}/{name:path}", expect(403), context="recording",
        params={"name": "audio.ogg"}, note="media URLs carry a signature; without one, nobody"),
    Row("GET /recordings", expect(200)),
    Row("GET /recordings/import", page(200)),
    Row("GET /recordings/{recording_id:int}", page(200), context="recording"),
    Row("POST /recordings/{recording_id:int}/invites", page(403, owner=303), context="recording",
        form=lambda w, r, c: {"username": w.login.member["username"]}),

    # Socket frames (anonymous: refused at the handshake, before any frame).
    Row("frame subscribe", readers("ok", "unauthenticated") | {"banned": "forbidden"},
        frame=lambda w, r, c: {"type": "subscribe", "room": c["room_id"]}),
    Row("frame subscribe", in_room("ok", "not_found", anonymous="unauthenticated") | {"banned": "forbidden"},
        context="private", frame=lambda w, r, c: {"type": "subscribe", "room": c["room_id"]}),
    Row("frame unsubscribe", logged_in("ok", anonymous="unauthenticated"),
        frame=lambda w, r, c: {"type": "unsubscribe", "room": c["room_id"]}),
    Row("frame send", in_room("ok", "forbidden", anonymous="unauthenticated", muted="forbidden"),
        frame=lambda w, r, c: {"type": "send", "room": c["room_id"], "client_id": uuid.uuid4().hex,
                               "body": "matrix"}),
    Row("frame edit", expect("forbidden", anonymous="unauthenticated", member="ok"),
        frame=lambda w, r, c: {"type": "edit", "room": c["room_id"], "target": c["seq"], "body": "edited"},
        note="only the author edits, and not while muted"),
    Row("frame delete", in_room("ok", "forbidden", anonymous="unauthenticated", muted="forbidden"),
        frame=members_message, note="the author and the room's moderators; site admins act through reports"),
    Row("frame history", readers("ok", "unauthenticated") | {"banned": "forbidden"},
        frame=lambda w, r, c: {"type": "history", "room": c["room_id"]}),
    Row("frame typing", in_room("ok", "forbidden", anonymous="unauthenticated"),
        frame=lambda w, r, c: {"type": "typing", "room": c["room_id"]}),
    Row("frame read", in_room("ok", "forbidden", anonymous="unauthenticated"),
        frame=lambda w, r, c: {"type": "read", "room": c["room_id"], "seq": 1}),
    Row("frame react", in_room("ok", "forbidden", anonymous="unauthenticated", muted="forbidden"),
        frame=lambda w, r, c: {"type": "react", "room": c["room_id"], "target": c["seq"], "emoji": "👍"},
        note="taking part: a member, not muted (a visitor of a public room joins first)"),
    Row("frame pin", staff("ok", "forbidden", anonymous="unauthenticated", site_admin="forbidden"),
        frame=lambda w, r, c: {"type": "pin", "room": c["room_id"], "target": c["seq"]},
        note="a room's owners and moderators pin (site admins moderate through the queue)"),
    Row("frame presence", logged_in("ok", anonymous="unauthenticated"),
        frame={"type": "presence", "status": "online"}),
    Row("frame who", readers("ok", "unauthenticated") | {"banned": "forbidden"},
        frame=lambda w, r, c: {"type": "who", "room": c["room_id"]}),
    Row("frame ping", logged_in("ok", anonymous="unauthenticated"), frame={"type": "ping"}),
    Row("frame alert", coordinators("ok", member="forbidden", outsider="not_found", anonymous="unauthenticated"),
        context="emergency",
        frame=lambda w, r, c: {"type": "alert", "room": c["room_id"], "client_id": f"f{next(_unique)}",
                               "body": "Move to the school"}),
    Row("frame alert.ack", in_room("ok", "not_found", anonymous="unauthenticated"), context="emergency",
        frame=lambda w, r, c: {"type": "alert.ack", "room": c["room_id"], "alert": c["seq"]}),
    Row("frame alerts", in_room("ok", "not_found", anonymous="unauthenticated"), context="emergency",
        frame=lambda w, r, c: {"type": "alerts", "room": c["room_id"]}),
    Row("frame media.watch", logged_in("ok", anonymous="unauthenticated", non_member="forbidden",
                                       site_admin="forbidden"), context="live",
        frame=lambda w, r, c: {"type": "media.watch", "webinar": c["webinar_id"]}),
    Row("frame media.publish", expect("forbidden", anonymous="unauthenticated", moderator="bad_request",
                                      owner="bad_request"), context="live",
        frame=lambda w, r, c: {"type": "media.publish", "webinar": c["webinar_id"], "sdp": "not sdp"},
        note="hosts and panelists publish; a broken offer is refused as such"),
    Row("frame media.view", logged_in("not_found", anonymous="unauthenticated", non_member="forbidden",
                                      site_admin="forbidden"), context="live", note="the host is not publishing",
        frame=lambda w, r, c: {"type": "media.view", "webinar": c["webinar_id"],
                               "publisher": w.people["owner"].id, "sdp": "not sdp"}),
    Row("frame media.stop", logged_in("ok", anonymous="unauthenticated"), context="live",
        note="it only ever stops the caller's own publication or viewing",
        frame=lambda w, r, c: {"type": "media.stop", "webinar": c["webinar_id"]}),
    Row("frame breakout.open", expect("forbidden", anonymous="unauthenticated", owner="ok"), context="live",
        fresh=True, frame=lambda w, r, c: _breakout_frame("breakout.open", c, victims_group(w, r, c))),
    Row("frame breakout.broadcast", expect("forbidden", anonymous="unauthenticated", owner="conflict"),
        context="live", note="hosts only; with no groups open the host is told so",
        frame=lambda w, r, c: {"type": "breakout.broadcast", "webinar": c["webinar_id"], "body": "Two minutes"}),
    Row("frame breakout.close", expect("forbidden", anonymous="unauthenticated", owner="conflict"),
        context="live", frame=lambda w, r, c: {"type": "breakout.close", "webinar": c["webinar_id"]}),
]


async def _breakout_frame(kind: str, ctx: dict, body) -> dict:
    return {"type": kind, "webinar": ctx["webinar_id"], **await body}


def all_rows() -> list[Row]:
    rows = list(ROWS)
    for name in ROW_MODULES:
        rows.extend(importlib.import_module(name).AUTHZ_ROWS)
    return rows


def declared_targets() -> set[str]:
    """Every route (path and method) and every frame type the app has."""
    app = create_app(Settings(data_dir=Path(tempfile.mkdtemp(prefix="convene-authz-"))))
    targets = set()
    for route in app.routes:
        if isinstance(route, Route):
            targets.update(f"{method} {route.path}" for method in route.methods or ())
        elif isinstance(route, WebSocketRoute):
            targets.add(f"WS {route.path}")
        elif isinstance(route, Mount):
            targets.add(f"GET {route.path}")
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")
    targets.update(f"frame {name}" for name in all_frames().types)
    return targets


def test_the_table_lists_every_route_and_frame_type_and_nothing_else():
    listed = {row.target for row in all_rows()}
    declared = declared_targets()
    # HEAD answers like GET (Starlette adds it to every GET route): a GET row stands for both, unless
    # HEAD means something of its own (tus) and has rows.
    missing = {target for target in declared - listed
               if not (target.startswith("HEAD ") and "GET " + target[5:] in listed)}
    assert not missing, f"routes or frames without rows: {sorted(missing)}"
    assert not listed - declared, f"rows for routes or frames the app does not have: {sorted(listed - declared)}"
    for row in all_rows():
        assert set(row.expect) == set(ROLES), f"{row.target}: every role needs an expectation"


# The world the table plays in.

@dataclass(frozen=True)
class Victim:
    """Someone a row acts on (kicked, banned, promoted…): an id, a profile and their credentials."""

    id: int
    member: dict
    headers: dict[str, str]


class World:
    def __init__(self, server) -> None:
        self.server = server
        self.people: dict[str, Api] = {}
        self.http: dict[str, httpx.AsyncClient] = {}
        self.sockets: dict[str, ChatClient] = {}
        self.contexts: dict[str, dict[str, Any]] = {}
        self.login: Api
        self.raw: httpx.AsyncClient   # no credentials of its own: setting up, with a victim's token
        self.anonymous_handshake = ""

    async def setup(self) -> None:
        for role in MEMBERS:
            self.people[role] = await Api.register(self.server.url, password=PASSWORD)
        self.login = await Api.register(self.server.url, password=PASSWORD)   # logs in for the auth rows
        self.raw = httpx.AsyncClient(base_url=self.server.url, timeout=15)
        admin_command(self.server, "create-admin", self.people["site_admin"].member["username"])
        self.http = {role: api.http for role, api in self.people.items()}
        self.http["anonymous"] = httpx.AsyncClient(base_url=self.server.url, timeout=15)
        for role, api in self.people.items():
            self.sockets[role] = await api.connect(self.server.ws_url)
        refused = await ChatClient.connect(self.server.ws_url, wait_hello=False)
        self.anonymous_handshake = (await refused.wait_for(lambda f: f["type"] == "error"))["code"]
        await refused.close()
        for name in ("room", "private", "emergency", "webinar", "live", "recording"):
            self.contexts[name] = await self.make(name)

    async def close(self) -> None:
        for client in self.sockets.values():
            await client.close()
        for client in self.http.values():
            await client.aclose()
        await self.login.aclose()
        await self.raw.aclose()

    def owner(self) -> httpx.AsyncClient:
        return self.people["owner"].http

    async def make(self, name: str) -> dict[str, Any]:
        if name in ("room", "private"):
            return await self._room("public" if name == "room" else "private")
        if name == "emergency":
            return await self._emergency()
        if name in ("webinar", "live"):
            return await self._webinar(live=name == "live")
        return await self._recording()

    async def _room(self, visibility: str) -> dict[str, Any]:
        room = await self.people["owner"].create_room(f"matrix {visibility}", visibility)
        ctx = {"room_id": room, "visibility": visibility, "member_id": self.people["owner"].id}
        for role in ("moderator", "member", "muted", "banned"):
            await self._seat(ctx, self.people[role])
        await self._ok(self.owner().post(f"/api/rooms/{room}/members/{self.people['moderator'].id}/role",
                                         json={"role": "moderator"}))
        ctx["seq"] = (await self.sockets["member"].say(room, "a member's message"))["seq"]
        ctx["owner_seq"] = (await self.sockets["owner"].say(room, "the owner's message"))["seq"]
        if visibility == "private":   # where the attachment rows play
            await self._attachments(ctx)
        await self._restrict(ctx)
        return ctx

    async def _seat(self, ctx: dict[str, Any], person: Api | Victim) -> None:
        """Makes someone a member of the context's room (or emergency, or webinar)."""
        headers = {"Authorization": f"Bearer {person.token}"} if isinstance(person, Api) else person.headers
        if "recording_id" in ctx:
            return
        if "webinar_id" in ctx:
            await self._ok(self.raw.post(f"/api/webinars/{ctx['webinar_id']}/register", headers=headers))
        elif ctx.get("emergency"):
            await self._ok(self.owner().post(f"/api/emergencies/{ctx['room_id']}/members",
                                             json={"member_id": person.id}))
        else:
            if ctx["visibility"] == "private":
                await self._ok(self.owner().post(f"/api/rooms/{ctx['room_id']}/invite", json={"member_id": person.id}))
            await self._ok(self.raw.post(f"/api/rooms/{ctx['room_id']}/join", headers=headers))

    async def _restrict(self, ctx: dict[str, Any]) -> None:
        room = ctx["room_id"]
        await self._ok(self.owner().post(f"/api/rooms/{room}/mutes",
                                         json={"member_id": self.people["muted"].id, "minutes": 43200}))
        await self._ok(self.owner().post(f"/api/rooms/{room}/bans", json={"member_id": self.people["banned"].id}))

    async def attachment(self, ctx: dict[str, Any]) -> int:
        """A file the owner uploads to the context's room (not sent)."""
        uploaded = await self._ok(self.owner().post(f"/api/rooms/{ctx['room_id']}/attachments", files=NOTE))
        return uploaded.json()["attachment"]["id"]

    async def upload(self, ctx: dict[str, Any]) -> str:
        """A resumable upload of 10 bytes the owner starts in the context's room."""
        started = await self._ok(self.owner().post(f"/api/rooms/{ctx['room_id']}/attachments",
                                                   headers={**TUS, "Upload-Length": "10"}))
        return started.headers["location"].rsplit("/", 1)[1]

    async def _attachments(self, ctx: dict[str, Any]) -> None:
        """One file sent in a message (and its signed URL), one not sent, one upload in progress."""
        sent = (await self._ok(self.owner().post(f"/api/rooms/{ctx['room_id']}/attachments", files=NOTE))).json()
        said = await self.sockets["owner"].request({"type": "send", "room": ctx["room_id"], "client_id": "with-file",
                                                    "attachments": [sent["attachment"]["id"]]})
        assert said["type"] == "ack", said
        ctx.update(sent=sent["attachment"]["id"], signature=sent["attachment"]["signed_url"].split("?", 1)[1],
                   unsent=await self.attachment(ctx), token=await self.upload(ctx))

    async def _emergency(self) -> dict[str, Any]:
        created = await self._ok(self.owner().post("/api/emergencies", json={
            "name": "Matrix typhoon", "region": "Eastern Visayas", "started_on": "2026-11-01",
            "areas": [{"country": "PH", "admin_area": "Leyte"}]}))
        room = created.json()["id"]
        ctx = {"room_id": room, "emergency": True, "member_id": self.people["owner"].id, "format": "json"}
        await self._ok(self.owner().post(f"/api/emergencies/{room}/members",
                                         json={"member_id": self.people["moderator"].id, "coordinator": True}))
        for role in ("member", "muted", "banned"):
            await self._seat(ctx, self.people[role])
        alert = await self._ok(self.owner().post(f"/api/emergencies/{room}/alerts", json=ALERT))
        ctx["seq"] = alert.json()["seq"]
        await self._ok(self.owner().post(f"/api/emergencies/{room}/sitrep",
                                         json={"title": "Day 1", "body": "Roads closed.", "base_version": 0}))
        ctx["version"] = 1
        ctx["entry_id"] = await self.fourw_entry(ctx, "owner")
        await self._restrict(ctx)
        return ctx

    async def fourw_entry(self, ctx: dict[str, Any], role: str) -> int:
        added = await self._ok(self.people[role].http.post(f"/api/emergencies/{ctx['room_id']}/fourw", json=FOURW))
        return added.json()["id"]

    async def _webinar(self, live: bool) -> dict[str, Any]:
        webinar = (await self._ok(self.owner().post("/api/webinars", json=WEBINAR))).json()
        ctx = {"webinar_id": webinar["id"], "room_id": webinar["room"], "name": "index.m3u8"}
        await self._ok(self.owner().post(f"/api/webinars/{webinar['id']}/panelists",
                                         json={"member_id": self.people["moderator"].id}))
        for role in ("member", "muted", "banned"):
            await self._seat(ctx, self.people[role])
        ctx["member_id"] = self.people["member"].id
        if live:
            await self._ok(self.owner().post(f"/api/webinars/{webinar['id']}/start"))
            question = await self._ok(self.people["member"].http.post(f"/api/webinars/{webinar['id']}/questions",
                                                                      json={"body": "Will slides be shared?"}))
            ctx["question_id"] = question.json()["id"]
            ctx["poll_id"] = await self.poll(ctx)
        await self._restrict(ctx)
        return ctx

    async def poll(self, ctx: dict[str, Any]) -> int:
        made = await self._ok(self.owner().post(f"/api/webinars/{ctx['webinar_id']}/polls",
                                                json={"question": "Clear?", "options": ["Yes", "No"]}))
        return made.json()["id"]

    async def _recording(self) -> dict[str, Any]:
        folder = Path(tempfile.mkdtemp(prefix="convene-authz-media-"))
        synthetic_file(folder / "talk.ogg", seconds=1, video=False)
        with open(folder / "talk.ogg", "rb") as data:
            imported = await self._ok(self.owner().post("/api/recordings/import", files={"file": ("talk.ogg", data)},
                                                        data={"title": "Matrix talk", "visibility": "members"}))
        return {"recording_id": imported.json()["id"], "name": "audio.ogg",
                "webinar_id": self.contexts["webinar"]["webinar_id"]}

    async def victim(self, ctx: dict[str, Any], restrict: str | None = None) -> Victim:
        """Someone new in the context, for a row that acts on a member (one per role: each acts on its own).
        Registered over one shared client: a client of their own each would cost more than the rest."""
        name = f"v{uuid.uuid4().hex[:10]}"
        raw = self.raw
        await self._ok(raw.post("/api/auth/register", json={"username": name, "password": PASSWORD}))
        raw.cookies.clear()
        issued = (await self._ok(raw.post("/api/auth/token", json={"username": name, "password": PASSWORD}))).json()
        person = Victim(issued["member"]["id"], issued["member"], {"Authorization": f"Bearer {issued['token']}"})
        await self._seat(ctx, person)
        if restrict == "bans":
            await self._ok(self.owner().post(f"/api/rooms/{ctx['room_id']}/bans", json={"member_id": person.id}))
        elif restrict == "mutes":
            await self._ok(self.owner().post(f"/api/rooms/{ctx['room_id']}/mutes",
                                             json={"member_id": person.id, "minutes": 5}))
        return person

    async def victim_mute(self, ctx: dict[str, Any]) -> dict:
        return {"member_id": (await self.victim(ctx)).id, "minutes": 5}

    async def webinar_mute(self, ctx: dict[str, Any]) -> dict:
        """A speaker to mute: someone registered and brought on stage."""
        person = await self.victim(ctx)
        await self._ok(self.owner().post(f"/api/webinars/{ctx['webinar_id']}/speakers", json={"member_id": person.id}))
        return {"member_id": person.id, "muted": True}

    async def victim_username_form(self, ctx: dict[str, Any]) -> dict:
        return {"username": (await self.victim(ctx)).member["username"]}

    async def report(self, ctx: dict[str, Any]) -> int:
        said = await self.sockets["owner"].say(ctx["room_id"], f"reported {next(_unique)}")
        filed = await self._ok(self.people["member"].http.post(f"/api/rooms/{ctx['room_id']}/reports",
                                                               json={"seq": said["seq"], "reason": "matrix"}))
        return filed.json()["id"]

    @staticmethod
    async def _ok(request) -> httpx.Response:
        response = await request
        assert response.status_code < 300, f"setting up the matrix: {response.status_code} {response.text}"
        return response


async def given(value: Any, w: World, role: str, ctx: dict) -> Any:
    if callable(value):
        value = value(w, role, ctx)
        if asyncio.iscoroutine(value):
            value = await value
    return value


def fill(path: str, params: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda m: str(params[m.group(1)]), path)


async def play_http(w: World, row: Row, role: str, ctx: dict) -> int:
    params = {**ctx, **(await given(row.params, w, role, ctx) or {})}
    path = fill(row.path + ("/{path}" if row.target == "GET /static" else ""), params)
    options: dict[str, Any] = {}
    if row.body is not None:
        options["json"] = await given(row.body, w, role, ctx)
    if row.form is not None:
        options["data"] = await given(row.form, w, role, ctx)
    if row.files is not None:
        options["files"] = await given(row.files, w, role, ctx)
    if row.content is not None:
        content, content_type = await given(row.content, w, role, ctx)
        options.update(content=content, headers={"content-type": content_type})
    if row.query is not None:
        options["params"] = await given(row.query, w, role, ctx)
    if row.headers is not None:
        options["headers"] = {**options.get("headers", {}), **await given(row.headers, w, role, ctx)}
    client = w.http[role]
    response = await client.request(row.method, path, **options)
    client.cookies.clear()   # a log-in row's session cookie must not follow this role into the next rows
    return response.status_code


async def play_frame(w: World, row: Row, role: str, ctx: dict) -> str:
    if role == "anonymous":
        return w.anonymous_handshake   # no frame is read before the handshake's authentication
    client = w.sockets[role]
    frame = await given(row.frame, w, role, ctx)
    ref = f"authz-{next(_unique)}"
    start = len(client.frames)
    await client.send({**frame, "ref": ref})
    await client.request({"type": "ping"})   # frames are handled in order: any reply came before the pong
    replies = [f for f in client.frames[start:] if f.get("ref") == ref]
    return replies[0]["code"] if replies and replies[0]["type"] == "error" else "ok"


async def play(w: World, row: Row) -> dict[str, int | str]:
    if row.target == "WS /ws":
        return {role: w.anonymous_handshake if role == "anonymous" else "ok" for role in ROLES}
    actual: dict[str, int | str] = {}
    ctx = await w.make(row.context) if row.fresh is True else w.contexts[row.context]
    for role in ROLES:
        role_ctx = await w.make(row.context) if row.fresh == "each" else ctx
        if row.target.startswith("frame "):
            actual[role] = await play_frame(w, row, role, role_ctx)
        else:
            actual[role] = await play_http(w, row, role, role_ctx)
    return actual


@pytest.fixture(scope="module")
async def world(server):
    w = World(server)
    await w.setup()
    yield w
    await w.close()


async def test_every_role_gets_what_the_table_says_for_every_route_and_frame(world):
    wrong = []
    for row in all_rows():
        actual = await play(world, row)
        if actual != dict(row.expect):
            differences = {role: f"expected {row.expect[role]}, got {actual[role]}" for role in ROLES
                           if actual[role] != row.expect[role]}
            wrong.append(f"{row.target} [{row.context}]: {differences}")
    assert not wrong, "\n".join(wrong)
