"""Test helpers for moderation: site admins made with the real command line, and a room's cast of roles."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.client import Api
from tests.support.services import REPO_ROOT, ServerProcess


def admin_command(server: ServerProcess, *args: str) -> str:
    """Runs `python -m rooms.admin ARGS` against the server's store (and Redis); answers what it printed."""
    result = subprocess.run([sys.executable, "-m", "rooms.admin", *args], cwd=REPO_ROOT,
                            env={**os.environ, **server.env}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


async def site_admin(server: ServerProcess) -> Api:
    """A newly registered member, made a site admin from the command line."""
    api = await Api.register(server.url)
    assert "now a site admin" in admin_command(server, "create-admin", api.member["username"])
    return api


async def promote(owner: Api, room: int, member: Api, role: str = "moderator") -> None:
    response = await owner.http.post(f"/api/rooms/{room}/members/{member.id}/role", json={"role": role})
    assert response.status_code == 204, response.text
