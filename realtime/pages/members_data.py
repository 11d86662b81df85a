"""The account deletion page: what happens, the password to confirm, and the goodbye (the API's DELETE /api/me)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import services_of
from realtime.limits.policy import client_ip, confirmed_with_backoff
from realtime.pages.rendering import member_page, read_form, render
from rooms.errors import ConveneError
from rooms.models import Member


@member_page
async def delete_account(request: Request, member: Member) -> Response:
    if request.method == "GET":
        return render(request, "delete_account.html", {"error": None}, member=member)
    services = services_of(request)
    form = await read_form(request)
    try:
        await confirmed_with_backoff(services.limits, member, client_ip(request),
                                     lambda: services.members_data.deletion.delete(member, form.get("password", "")))
    except ConveneError as error:
        return render(request, "delete_account.html", {"error": error}, error.http_status, member)
    response = render(request, "account_deleted.html", {})
    services.cookies.clear(response)
    return response


routes = [Route("/settings/delete", delete_account, methods=["GET", "POST"])]
