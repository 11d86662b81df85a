"""nginx from Debian's package, on loopback, with the shipped cache config (docs/nginx-live-cache.conf) in front of a server.

The shipped file is used as it is, except for what a deployment would change anyway: the origin's
address, the port, and where the cache and nginx's own files live (a private temporary directory).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.services import INSTALL_HINT, REPO_ROOT, free_port, tail, wait_until

SHIPPED = REPO_ROOT / "docs" / "nginx-live-cache.conf"
NGINX = "/usr/sbin/nginx"


def adapted(origin_port: int, port: int, cache_dir: Path) -> str:
    """The shipped config with this test's origin, port and cache directory."""
    text = SHIPPED.read_text()
    text = text.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{origin_port};")
    text = re.sub(r"listen 80;", f"listen 127.0.0.1:{port};", text)
    return text.replace("/var/cache/nginx/convene-live", str(cache_dir))


class NginxCache:
    def __init__(self, origin_port: int) -> None:
        self.origin_port = origin_port
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="convene-nginx-"))
        self.directory.chmod(0o777)   # nginx's workers run as nobody
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.directory / "access.log"

    def start(self) -> None:
        if not Path(NGINX).exists():
            raise RuntimeError(f"nginx is not installed ({NGINX}); {INSTALL_HINT}")
        (self.directory / "live-cache.conf").write_text(adapted(self.origin_port, self.port, self.directory / "cache"))
        d = self.directory
        (d / "nginx.conf").write_text(f"""
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format cache '$upstream_cache_status $status $request_uri';
    access_log {d}/access.log cache;
    client_body_temp_path {d}/client;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    include {d}/live-cache.conf;
}}
""")
        self.process = subprocess.Popen([NGINX, "-c", str(d / "nginx.conf"), "-p", str(d)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_until(self._listening, 15, "nginx")
        except TimeoutError as error:
            self.stop()
            raise RuntimeError(f"nginx did not start: {error}\n{tail(d / 'error.log')}") from None

    def _listening(self) -> bool:
        import socket
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"nginx exited with {self.process.returncode}: {tail(self.directory / 'error.log')}")
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def origin_requests(self, path_part: str = "") -> int:
        """Requests nginx passed to the origin (cache MISS, EXPIRED, BYPASS… or not cacheable), optionally for URLs
        containing `path_part`."""
        lines = self.access_log.read_text().splitlines() if self.access_log.exists() else []
        return sum(1 for line in lines if not line.startswith("HIT ") and path_part in line)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "NginxCache":
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.cleanup()
