"""Who is calling: the signed session cookie for browsers, bearer tokens for everything else."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import HTTPConnection
from starlette.responses import Response

from realtime import log_context
from rooms.accounts import AccountService
from rooms.models import Member
from realtime.settings import Settings

SESSION_COOKIE = "convene_session"


class SessionCookies:
    def __init__(self, settings: Settings) -> None:
        self._signer = URLSafeSerializer(settings.secret_key, salt="convene.session")
        self._secure = settings.secure_cookies
        self._max_age = settings.session_max_age_s

    def set(self, response: Response, token: str) -> None:
        response.set_cookie(SESSION_COOKIE, self._signer.dumps(token), max_age=self._max_age,
                            httponly=True, samesite="lax", secure=self._secure, path="/")

    def clear(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=self._secure)

    def token(self, conn: HTTPConnection) -> str | None:
        raw = conn.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            token = self._signer.loads(raw)
        except BadSignature:
            return None
        return token if isinstance(token, str) else None


def bearer_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def authenticate(conn: HTTPConnection, cookies: SessionCookies,
                       accounts: AccountService) -> tuple[Member | None, str]:
    """The member behind the request and how they proved it ("bearer", "cookie" or ""); the
    request's log lines name the member from here on."""
    token, how = bearer_token(conn), "bearer"
    if not token:
        token, how = cookies.token(conn), "cookie"
    if not token:
        return None, ""
    member = await accounts.member_for_token(token)
    if member is not None:
        log_context.member_id.set(member.id)
    return member, how


def origin_allowed(conn: HTTPConnection, allowed: tuple[str, ...]) -> bool:
    """A browser's Origin must be this site itself or one configured in ALLOWED_ORIGINS.
    Requests without Origin come from non-browser clients, which carry no ambient cookies risk."""
    origin = conn.headers.get("origin")
    if origin is None:
        return True
    origin = origin.rstrip("/")
    host = conn.headers.get("host", "")
    secure = conn.url.scheme in ("https", "wss")
    own = f"{'https' if secure else 'http'}://{host}"
    return origin == own or origin in allowed
