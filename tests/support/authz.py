"""The authorization matrix's row format, shared by tests/integration/test_authorization_matrix.py and any
feature's own test module that keeps its rows beside its tests (a list named AUTHZ_ROWS).

A row names one HTTP route exactly as the app declares it ("POST /api/rooms/{room_id:int}/bans"),
or one socket frame type ("frame subscribe"), and says what each role gets: an HTTP status, or for
a frame "ok" or the error code. Roles are relative to the row's context (the public room unless
it says otherwise): see ROLES.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

# anonymous: no credentials; non_member: logged in, belongs to nothing; member, muted, banned,
# moderator, owner: in the context (muted and banned there); site_admin: a site admin who does not
# belong to the context.
ROLES = ("anonymous", "non_member", "member", "muted", "banned", "moderator", "owner", "site_admin")

# A value, or an async function (world, role, context) -> value, for a body, form, query or path parameters.
Given = Any
Expected = int | str


def expect(default: Expected, **by_role: Expected) -> dict[str, Expected]:
    """Every role gets `default` unless named: expect(403, anonymous=401, moderator=201, owner=201)."""
    unknown = set(by_role) - set(ROLES)
    assert not unknown, f"unknown roles {unknown}"
    return {role: by_role.get(role, default) for role in ROLES}


def staff(ok: Expected, other: Expected = 403, *, anonymous: Expected = 401,
          **by_role: Expected) -> dict[str, Expected]:
    """Moderators, owners and site admins get `ok`; every other logged-in role `other`."""
    return expect(other, **{"anonymous": anonymous, "moderator": ok, "owner": ok, "site_admin": ok, **by_role})


@dataclass(frozen=True)
class Row:
    target: str                             # "METHOD /path as declared", "frame <type>", or "WS /ws"
    expect: Mapping[str, Expected]          # every role in ROLES
    context: str = "room"                   # whose roles these are: room, private, emergency, webinar, live, recording
    params: Given = None                    # path parameters beyond the context's own
    body: Given = None                      # a JSON body
    form: Given = None                      # a url-encoded form body (pages)
    files: Given = None                     # multipart files {"field": (name, bytes)}
    content: Given = None                   # (bytes, content type) sent as they are
    query: Given = None
    headers: Given = None                   # extra request headers (a protocol's, such as tus's)
    frame: Given = None                     # the frame sent, for "frame <type>" rows
    fresh: bool = False                     # a fresh copy of the context: the row changes who is who
    note: str = ""                          # why the expectation is what it is, where it is not obvious

    @property
    def method(self) -> str:
        return self.target.split(" ", 1)[0]

    @property
    def path(self) -> str:
        return self.target.split(" ", 1)[1]

