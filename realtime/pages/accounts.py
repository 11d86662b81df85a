"""Account pages: log in, register, log out and the member's settings."""

from __future__ import annotations

from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import require_same_origin, services_of
from realtime.i18n import LANGUAGES
from realtime.limits.policy import client_ip, login_with_backoff, register_limited
from realtime.pages.rendering import (
    LANGUAGE_COOKIE, LOW_BANDWIDTH_COOKIE, NOTIFICATIONS_COOKIE, PREFERENCE_MAX_AGE_S, THEME_COOKIE, THEMES, Act,
    current_member,
    local_path, member_page, page, read_form, render, see_other,
)
from rooms.accounts import TokenKind, check_display_name
from rooms.errors import BadRequest, ConveneError
from rooms.models import Member


@page
async def home(request: Request) -> Response:
    return see_other("/rooms" if await current_member(request) else "/login")


async def _credentials_page(request: Request, template: str, fields: tuple[str, ...], act: Act) -> Response:
    """Login and register share one flow: show the form, check the origin, act, set the session."""
    services = services_of(request)
    next_path = local_path(request.query_params.get("next"))
    if request.method == "GET":
        if await current_member(request):
            return see_other(next_path)
        return render(request, template, {"error": None, "values": {}, "next": next_path})
    values: dict[str, str] = {}
    try:
        require_same_origin(request)
        form = await read_form(request)
        values = {name: form.get(name, "") for name in fields}
        next_path = local_path(form.get("next"))
        member = await act(services, values)
    except ConveneError as error:
        if error.http_status == 403:
            raise
        values.pop("password", None)   # never echo a password back into the page
        # A wrong password is a 400 here: 401 would promise an HTTP authentication challenge.
        status = 400 if error.http_status == 401 else error.http_status
        return render(request, template, {"error": error, "values": values, "next": next_path}, status)
    previous = services.cookies.token(request)
    if previous:
        await services.accounts.revoke(previous)   # switching accounts leaves no live session behind
    response = see_other(next_path)
    services.cookies.set(response, await services.accounts.issue_token(member, TokenKind.SESSION))
    return response


@page
async def login(request: Request) -> Response:
    return await _credentials_page(
        request, "login.html", ("username", "password"),
        lambda services, form: login_with_backoff(services.limits, services.accounts, form["username"],
                                                  form["password"], client_ip(request)))


@page
async def register(request: Request) -> Response:
    return await _credentials_page(
        request, "register.html", ("username", "display_name", "password"),
        lambda services, form: register_limited(services.limits, services.accounts, form["username"],
                                                form["password"], form["display_name"], client_ip(request)))


@page
async def logout(request: Request) -> Response:
    services = services_of(request)
    require_same_origin(request)
    token = services.cookies.token(request)
    if token:
        await services.accounts.revoke(token)
    response = see_other("/login")
    services.cookies.clear(response)
    return response


PROFILE_FORM = ("display_name", "organisation", "country", "bio")


@member_page
async def settings_page(request: Request, member: Member) -> Response:
    if request.method == "GET":
        return render(request, "settings.html", {"error": None, "values": {},
                                                  "saved": request.query_params.get("saved") == "1"}, member=member)
    form = await read_form(request)
    values = {name: form.get(name, "").strip() for name in PROFILE_FORM}
    values["country"] = values["country"].upper()
    try:
        values["display_name"] = check_display_name(values["display_name"])
        if len(values["organisation"]) > 120 or len(values["bio"]) > 2000:
            raise BadRequest("that is too long", field="bio")
        if values["country"] and not (len(values["country"]) == 2 and values["country"].isalpha()
                                      and values["country"].isascii()):
            raise BadRequest("use a two-letter country code, for example KE", field="country")
        await services_of(request).stores.accounts.update_profile(member.id, values)
        await services_of(request).accounts.revoke_member(member.id)   # cached copies of the old name go
    except ConveneError as error:
        return render(request, "settings.html", {"error": error, "values": values, "saved": False},
                       error.http_status, member)
    response = see_other("/settings?saved=1")
    secure = services_of(request).settings.secure_cookies
    language = form.get("language", "")
    # The profile keeps the language too, so it follows the member to every device and their e-mails.
    notifications = services_of(request).notifications
    prefs = await notifications.preferences(member)
    theme = form.get("theme", "") if form.get("theme") in THEMES else ""
    await notifications.save_preferences(member, replace(prefs, language=language if language in LANGUAGES else "",
                                                         theme=theme))
    # The cookies keep the choices for this device's pages before log-in (the login page in the dark too).
    choices = {LANGUAGE_COOKIE: language if language in LANGUAGES else "", THEME_COOKIE: theme,
               LOW_BANDWIDTH_COOKIE: "1" if form.get("low_bandwidth") == "1" else "",
               NOTIFICATIONS_COOKIE: "1" if form.get("notifications") == "1" else ""}
    for name, value in choices.items():
        if value:
            response.set_cookie(name, value, max_age=PREFERENCE_MAX_AGE_S, httponly=True, secure=secure,
                                samesite="lax")
        else:
            response.delete_cookie(name, httponly=True, secure=secure, samesite="lax")
    return response


routes = [
    Route("/", home, methods=["GET"]),
    Route("/login", login, methods=["GET", "POST"]),
    Route("/register", register, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/settings", settings_page, methods=["GET", "POST"]),
]
