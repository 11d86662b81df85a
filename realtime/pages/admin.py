"""The site admins' page: find members, suspend and reinstate them, and the open reports of every room."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import services_of
from realtime.pages.rendering import member_page, read_form, render, see_other
from rooms.errors import ConveneError, Forbidden
from rooms.models import Member


async def _admin_page(request: Request, member: Member, error: ConveneError | None = None) -> Response:
    if not member.site_admin:
        raise Forbidden("site admins only")
    moderation = services_of(request).moderation
    query = request.query_params.get("q", "")[:100]
    return render(request, "admin.html", {
        "query": query, "error": error,
        "found": await moderation.accounts.search(member, query) if query else [],
        "reports": await moderation.reports.everywhere(member),
        "actions": await moderation.accounts.recent_actions(member),
    }, error.http_status if error else 200, member)


@member_page
async def admin(request: Request, member: Member) -> Response:
    return await _admin_page(request, member)


async def _change(request: Request, member: Member, suspend: bool) -> Response:
    if not member.site_admin:   # before reading anything the request says
        raise Forbidden("site admins only")
    accounts = services_of(request).moderation.accounts
    form = await read_form(request)
    member_id = request.path_params["member_id"]
    try:
        if suspend:
            await accounts.suspend(member, member_id, form.get("reason", ""))
        else:
            await accounts.unsuspend(member, member_id, form.get("reason", ""))
    except ConveneError as error:
        return await _admin_page(request, member, error)
    query = form.get("q", "")
    return see_other("/admin" + (f"?q={query}" if query.isalnum() else ""))


@member_page
async def suspend(request: Request, member: Member) -> Response:
    return await _change(request, member, True)


@member_page
async def unsuspend(request: Request, member: Member) -> Response:
    return await _change(request, member, False)


routes = [
    Route("/admin", admin, methods=["GET"]),
    Route("/admin/members/{member_id:int}/suspend", suspend, methods=["POST"]),
    Route("/admin/members/{member_id:int}/unsuspend", unsuspend, methods=["POST"]),
]
