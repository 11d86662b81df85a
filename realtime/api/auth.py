"""Register, log in, log out, and bearer tokens for non-browser clients."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import current_member, json, read_body, require_same_origin, services_of
from realtime.limits.policy import client_ip, login_with_backoff, register_limited
from rooms.accounts import TokenKind


class Credentials(BaseModel):
    model_config = ConfigDict(extra="ignore")
    username: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    password: Annotated[StrictStr, Field(min_length=1, max_length=256)]


class Registration(Credentials):
    display_name: Annotated[StrictStr, Field(max_length=80)] = ""


async def register(request: Request) -> Response:
    require_same_origin(request)
    body = await read_body(request, Registration)
    services = services_of(request)
    member = await register_limited(services.limits, services.accounts, body.username, body.password,
                                    body.display_name, client_ip(request))
    response = json({"member": member.public()}, status=201)
    services.cookies.set(response, await services.accounts.issue_token(member, TokenKind.SESSION))
    return response


async def login(request: Request) -> Response:
    require_same_origin(request)
    body = await read_body(request, Credentials)
    services = services_of(request)
    member = await login_with_backoff(services.limits, services.accounts, body.username, body.password,
                                      client_ip(request))
    response = json({"member": member.public()})
    services.cookies.set(response, await services.accounts.issue_token(member, TokenKind.SESSION))
    return response


async def logout(request: Request) -> Response:
    services = services_of(request)
    await current_member(request)
    token = services.cookies.token(request)
    if token:
        await services.accounts.revoke(token)
    response = Response(status_code=204)
    services.cookies.clear(response)
    return response


async def token(request: Request) -> Response:
    """A bearer token for bots and load generators: same credentials, no cookie."""
    body = await read_body(request, Credentials)
    services = services_of(request)
    member = await login_with_backoff(services.limits, services.accounts, body.username, body.password,
                                      client_ip(request))
    return json({"token": await services.accounts.issue_token(member, TokenKind.API),
                 "member": member.public()}, status=201)


routes = [
    Route("/api/auth/register", register, methods=["POST"]),
    Route("/api/auth/login", login, methods=["POST"]),
    Route("/api/auth/logout", logout, methods=["POST"]),
    Route("/api/auth/token", token, methods=["POST"]),
]
