"""Scenario (in a namespace of its own, tests/support/netns.py): who may read /metrics.

The namespace's loopback also carries 10.99.0.1, an address that is not loopback, so a request
from it is exactly what a request from another machine looks like to the server, while nothing
leaves the namespace. Two servers bound to every address: one without METRICS_TOKEN (loopback only),
one with it (the token only, from anywhere). Prints the status of each request.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import tempfile
from pathlib import Path

from tests.conftest import embedded_env
from tests.support.services import ServerProcess

OTHER_ADDRESS = "10.99.0.1"
TOKEN = "scrape-token-for-tests"


def status(address: str, port: int, authorization: str | None = None) -> int:
    conn = http.client.HTTPConnection(address, port, timeout=5)
    try:
        conn.request("GET", "/metrics", headers={"Authorization": authorization} if authorization else {})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def serve(data_dir: Path, **env: str) -> ServerProcess:
    server = ServerProcess(env=embedded_env(data_dir, **env), host="0.0.0.0")
    server.start()
    return server


def main() -> dict:
    subprocess.run(["ip", "addr", "add", f"{OTHER_ADDRESS}/32", "dev", "lo"], check=True)
    with tempfile.TemporaryDirectory(prefix="convene-metrics-") as data:
        return statuses(Path(data))


def statuses(data: Path) -> dict[str, int]:
    result: dict[str, int] = {}
    open_server = serve(data / "open")
    try:
        result["no_token_from_loopback"] = status("127.0.0.1", open_server.port)
        result["no_token_from_elsewhere"] = status(OTHER_ADDRESS, open_server.port)
        result["no_token_from_elsewhere_with_a_bearer"] = status(OTHER_ADDRESS, open_server.port, "Bearer guess")
    finally:
        open_server.cleanup()
    token_server = serve(data / "token", METRICS_TOKEN=TOKEN)
    try:
        result["token_set_from_loopback_without_it"] = status("127.0.0.1", token_server.port)
        result["token_set_from_loopback_wrong"] = status("127.0.0.1", token_server.port, "Bearer wrong-token")
        result["token_set_from_elsewhere_without_it"] = status(OTHER_ADDRESS, token_server.port)
        result["token_set_from_elsewhere_wrong"] = status(OTHER_ADDRESS, token_server.port, f"Basic {TOKEN}")
        result["token_set_from_elsewhere_with_it"] = status(OTHER_ADDRESS, token_server.port, f"Bearer {TOKEN}")
        result["token_set_from_loopback_with_it"] = status("127.0.0.1", token_server.port, f"Bearer {TOKEN}")
    finally:
        token_server.cleanup()
    return result


if __name__ == "__main__":
    print(json.dumps(main()))
