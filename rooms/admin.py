"""`python -m rooms.admin`: site admins and suspensions from the command line.

    python -m rooms.admin create-admin USERNAME   make a member a site admin (creating the account,
                                                  with a password typed twice or --password-stdin)
    python -m rooms.admin suspend USERNAME [--reason TEXT]
    python -m rooms.admin unsuspend USERNAME

It reads the same settings as the server (DATABASE_URL, REDIS_URL, CONVENE_DATA_DIR). A suspension
is announced to the running servers over Redis when there is one; every server also finds it in the
store within REPAIR_INTERVAL_S and closes the member's sockets.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from argon2 import PasswordHasher

from realtime.broker import BrokerUnavailable, open_broker
from realtime.settings import Settings
from rooms.accounts import AccountService
from rooms.errors import ConveneError
from rooms.fanout import CONTROL_CHANNEL, encode_suspension
from rooms.models import Member
from rooms.moderation.accounts import AccountModeration
from rooms.moderation.store import ModerationStores
from rooms.store import Stores


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rooms.admin", description="Site admins and suspensions.")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-admin", help="make a member a site admin (creating the account if needed)")
    create.add_argument("username")
    create.add_argument("--password-stdin", action="store_true", help="read a new account's password from stdin")
    for name in ("suspend", "unsuspend"):
        command = commands.add_parser(name, help=f"{name} a member's account")
        command.add_argument("username")
        command.add_argument("--reason", default="")
    return parser


def _new_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("Password for the new account: ")
    if getpass.getpass("Again: ") != password:
        raise SystemExit("The passwords differ.")
    return password


async def run(args: argparse.Namespace, settings: Settings) -> str:
    stores = Stores.open(settings.sqlalchemy_url)
    broker = open_broker(settings.redis_url)

    async def announce(member_id: int) -> None:
        try:
            await broker.publish(CONTROL_CHANNEL, encode_suspension(member_id))
        except BrokerUnavailable:
            pass   # the servers find the suspension in the store within REPAIR_INTERVAL_S

    try:
        await stores.db.migrate()
        accounts = AccountService(stores, settings.session_max_age_s,
                                  PasswordHasher(time_cost=settings.password_time_cost,
                                                 memory_cost=settings.password_memory_kib))
        moderation = AccountModeration(stores, ModerationStores.over(stores), accounts, announce)
        found = await stores.accounts.credentials(args.username.strip().lower())
        member: Member | None = found[0] if found else None
        if args.command == "create-admin":
            if member is None:
                member = await accounts.register(args.username, _new_password(args.password_stdin), args.username)
            changed = await moderation.make_admin(member.id)
            return f"{member.username} is {'now' if changed else 'already'} a site admin."
        if member is None:
            raise SystemExit(f"No member is called {args.username!r}.")
        if args.command == "suspend":
            changed = await moderation.suspend(None, member.id, args.reason)
            return f"{member.username} is {'now' if changed else 'already'} suspended."
        changed = await moderation.unsuspend(None, member.id, args.reason)
        return f"{member.username} is {'no longer' if changed else 'not'} suspended."
    finally:
        await broker.disconnect()
        await stores.db.dispose()


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        print(asyncio.run(run(args, Settings.from_env())))
    except ConveneError as error:
        raise SystemExit(f"Refused: {error.message}") from None


if __name__ == "__main__":
    main()
