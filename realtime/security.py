"""Security headers on every HTTP response: a strict CSP (no third-party origins), no sniffing, no framing.

Also refuses, as not found, any path with a number too long to be one of our ids: Starlette's
`{x:int}` accepts any length, and a 20-digit id would overflow the database's 64-bit columns (a 500).
And refuses a NUL in the path or query string (`%00`) as `disallowed_characters`: Postgres cannot
store or compare it, SQLite can, and both backends must answer alike (rooms/text_rules.py).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"connect-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'none'; "
     b"form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


# Ids are 64-bit: 18 digits always fit, so anything longer cannot name a row.
MAX_ID_DIGITS = 18
NOT_FOUND = b'{"error":{"code":"not_found","message":"no such resource"}}'
NUL_REFUSED = (b'{"error":{"code":"disallowed_characters",'
               b'"message":"text may not contain NUL (U+0000) characters"}}')


def has_oversized_id(path: str) -> bool:
    return any(len(part) > MAX_ID_DIGITS and part.isdigit() for part in path.split("/"))


def has_nul(scope: Scope) -> bool:
    return "\x00" in scope["path"] or b"%00" in scope.get("query_string", b"")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if has_oversized_id(scope["path"]):
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"application/json"), *HEADERS]})
            await send({"type": "http.response.body", "body": NOT_FOUND})
            return
        if has_nul(scope):
            await send({"type": "http.response.start", "status": 422,
                        "headers": [(b"content-type", b"application/json"), *HEADERS]})
            await send({"type": "http.response.body", "body": NUL_REFUSED})
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (name, value) for name, value in HEADERS if name not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)
