"""Web Push over HTTP: the server's VAPID public key, and adding or removing a browser's subscription."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import json, member_endpoint, read_body, services_of
from rooms.models import Member


class Keys(BaseModel):
    p256dh: Annotated[StrictStr, Field(min_length=80, max_length=100)]
    auth: Annotated[StrictStr, Field(min_length=16, max_length=32)]


class PushSubscription(BaseModel):
    """The browser's PushSubscription.toJSON()."""

    model_config = ConfigDict(extra="ignore")
    endpoint: Annotated[StrictStr, Field(min_length=8, max_length=1024)]
    keys: Keys


class Endpoint(BaseModel):
    endpoint: Annotated[StrictStr, Field(min_length=8, max_length=1024)]


async def key(request: Request) -> Response:
    return json({"key": services_of(request).notifications.keys.public_key})


@member_endpoint
async def subscriptions(request: Request, member: Member) -> Response:
    service = services_of(request).notifications
    if request.method == "DELETE":
        body = await read_body(request, Endpoint)
        await service.unsubscribe_push(member, body.endpoint)
        return Response(status_code=204)
    body = await read_body(request, PushSubscription)
    subscription_id = await service.subscribe(member, body.endpoint, body.keys.p256dh, body.keys.auth)
    return json({"id": subscription_id}, status=201)


routes = [
    Route("/api/push/key", key, methods=["GET"]),
    Route("/api/push/subscriptions", subscriptions, methods=["POST", "DELETE"]),
]
