"""What every JSON endpoint shares: reading a bounded, validated body, finding the caller, error replies."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from realtime.auth import authenticate, origin_allowed
from realtime.services import Services
from rooms.errors import BadRequest, ConveneError, Forbidden, NotFound, TooLarge, Unauthenticated
from rooms.models import Member
from rooms.text_rules import may_hold_nul, refuse_nul_anywhere

Body = TypeVar("Body", bound=BaseModel)
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def services_of(request: Request) -> Services:
    return request.app.state.services


def json(data: object, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def error_response(error: ConveneError) -> JSONResponse:
    headers = {"Retry-After": str(max(1, round(error.retry_after)))} if error.retry_after else None
    return JSONResponse({"error": error.payload()}, status_code=error.http_status, headers=headers)


async def read_bounded(request: Request, limit: int | None = None, field: str | None = None) -> bytes:
    """The raw body, refused as soon as it passes `limit` (default MAX_REQUEST_BYTES), declared or
    actually sent."""
    limit = limit if limit is not None else services_of(request).settings.max_request_bytes
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BadRequest(f"request bodies are limited to {limit} bytes", field=field)
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise BadRequest(f"request bodies are limited to {limit} bytes", field=field)
    return data


async def capped_stream(request: Request, limit: int, what: str = "uploads") -> AsyncIterator[bytes]:
    """The body's chunks as they arrive, refused (413) as soon as they pass `limit` bytes (a file upload
    streamed to disk, where read_bounded would hold it in memory)."""
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise TooLarge(f"{what} are limited to {limit} bytes")
        yield chunk


async def read_body(request: Request, model: type[Body]) -> Body:
    """The request's JSON body, size-limited and validated; a 400/422 names the first bad field."""
    data = await read_bounded(request)
    try:
        raw = orjson.loads(data or b"{}")
    except orjson.JSONDecodeError:
        error = BadRequest("the body is not valid JSON")
        error.http_status = 400
        raise error from None
    if may_hold_nul(data):
        refuse_nul_anywhere(raw)   # Postgres cannot store it: refused alike on every backend
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise BadRequest(first["msg"], field=field) from None


async def current_member(request: Request) -> Member:
    """The authenticated caller. Cookie-authenticated writes must come from our own pages (CSRF)."""
    services = services_of(request)
    member, how = await authenticate(request, services.cookies, services.accounts)
    if member is None:
        raise Unauthenticated("log in or send a bearer token")
    if how == "cookie" and request.method in UNSAFE_METHODS:
        require_same_origin(request)
    return member


async def optional_member(request: Request) -> Member | None:
    """The caller, or None for a visitor (for what is public). A stale token or cookie is refused
    rather than treated as a visitor, so a client learns to log in again."""
    services = services_of(request)
    member, how = await authenticate(request, services.cookies, services.accounts)
    if member is not None and how == "cookie" and request.method in UNSAFE_METHODS:
        require_same_origin(request)
    if member is None and (request.headers.get("authorization") or services.cookies.token(request)):
        raise Unauthenticated("this session has expired; log in again")
    return member


Endpoint = Callable[[Request], Awaitable[Response]]
MemberEndpoint = Callable[[Request, Member], Awaitable[Response]]


def member_endpoint(handler: MemberEndpoint) -> Endpoint:
    """An endpoint for logged-in callers only: it receives the caller (see current_member)."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        return await handler(request, await current_member(request))

    return endpoint


def require_same_origin(request: Request) -> None:
    settings = services_of(request).settings
    if not origin_allowed(request, settings.allowed_origins):
        raise Forbidden("cross-site request refused")
    if request.headers.get("origin") is None and request.headers.get("sec-fetch-site") == "cross-site":
        raise Forbidden("cross-site request refused")


async def audit_export(kind: str, filename: str, as_json: Callable[[], Awaitable[bytes]],
                       as_csv: Callable[[], Awaitable[str]]) -> Response:
    """An audit trail (rooms/audit.py) as a download, in the format asked for: json or csv."""
    headers = {"content-disposition": f'attachment; filename="{filename}.{kind}"'}
    if kind == "csv":
        return Response(await as_csv(), media_type="text/csv; charset=utf-8", headers=headers)
    if kind == "json":
        return Response(await as_json(), media_type="application/json", headers=headers)
    raise NotFound("json or csv", field="format")


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise BadRequest("must be a whole number", field=name)
    return max(low, min(high, int(raw)))
