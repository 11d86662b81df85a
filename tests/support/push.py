"""A Web Push service on loopback speaking RFC 8030, and a test "browser" that subscribes and decrypts.

The service accepts POST /push/<id> with TTL, Urgency, Content-Encoding: aes128gcm and a VAPID
Authorization header, records each request, and answers 201 (or 410 for ids marked gone; or, for a
device given troubles, first each of them in turn: a 5xx, or no answer at all). The browser
side is a P-256 key pair and an auth secret (RFC 8291), so the test reads exactly what a browser would.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.support.services import free_port


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


HANG = "hang"


@dataclass
class Pushed:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class PushService:
    port: int = field(default_factory=free_port)
    received: list[Pushed] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    # A device's next requests, in order, before it is answered normally: a status to answer (503),
    # or HANG: no answer for hang_s, as an overloaded service would (the sender's timeout is shorter).
    troubles: dict[str, list[int | str]] = field(default_factory=dict)
    hang_s: float = 3.0

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:   # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                service.received.append(Pushed(self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                                               time.monotonic()))
                name = self.path.rsplit("/", 1)[-1]
                troubles = service.troubles.get(name)
                trouble = troubles.pop(0) if troubles else None
                if trouble == HANG:
                    time.sleep(service.hang_s)   # the sender gave up long ago: answer nothing
                    return
                status = trouble if isinstance(trouble, int) else 410 if name in service.gone else 201
                self.send_response(status)
                self.send_header("content-length", "0")
                if status == 201:
                    self.send_header("location", f"{service.origin}/message/{len(service.received)}")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def to(self, device: "Device") -> list[Pushed]:
        return [p for p in self.received if p.path == device.path]


@dataclass
class Device:
    """One browser's push subscription: the keys only the browser holds, and the endpoint it was given."""

    service: PushService
    name: str = field(default_factory=lambda: os.urandom(8).hex())

    def __post_init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    @property
    def path(self) -> str:
        return f"/push/{self.name}"

    def subscription(self) -> dict:
        public = self.private_key.public_key().public_bytes(serialization.Encoding.X962,
                                                            serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": self.service.origin + self.path, "expirationTime": None,
                "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)}}

    def decrypt(self, pushed: Pushed) -> dict:
        return json.loads(http_ece.decrypt(pushed.body, private_key=self.private_key, auth_secret=self.auth,
                                           version="aes128gcm"))


def verify_vapid(authorization: str, server_key: str, audience: str) -> dict:
    """Checks `vapid t=<JWT>, k=<key>` (RFC 8292): the key is the server's, the ES256 signature holds,
    the audience is the push service and the token has not expired. Answers the claims."""
    scheme, _, params = authorization.partition(" ")
    assert scheme.lower() == "vapid", authorization
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert fields["k"] == server_key
    header, claims, signature = fields["t"].split(".")
    assert json.loads(unb64url(header)) == {"typ": "JWT", "alg": "ES256"}
    raw = unb64url(signature)
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(server_key))
    try:
        public.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
                      f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AssertionError("the VAPID signature does not verify against /api/push/key") from None
    decoded = json.loads(unb64url(claims))
    assert decoded["aud"] == audience and decoded["exp"] > time.time() and decoded["sub"].startswith("mailto:")
    return decoded
