"""Browser fixtures: one embedded Convene server, one headless Chromium, and helpers that act like a member.

Chromium is the system one (/usr/bin/chromium, from `make system`); Playwright never downloads a browser.
axe-core comes from npm (tests/browser/package.json, installed by `make test`).
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.conftest import embedded_env
from tests.support.services import REPO_ROOT, ServerProcess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
PASSWORD = "a long enough password"
TIMEOUT_MS = 15_000


# Package scope, not session: Playwright's sync API keeps an event loop running while it is
# open, and every asyncio test collected after the browser tests would fail inside it.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # Each context of a launched browser is a fresh, isolated profile (cookies, storage, service workers).
    instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield instance
    instance.close()


def start_site(**extra: str) -> ServerProcess:
    process = ServerProcess(env=embedded_env(Path(tempfile.mkdtemp(prefix="convene-browser-")), **extra))
    process.start()
    return process


@pytest.fixture(scope="session")
def site() -> Iterator[ServerProcess]:
    """One embedded server for the browser tests that do not stop it."""
    process = start_site()
    yield process
    process.cleanup()


@pytest.fixture
def own_site() -> Iterator[ServerProcess]:
    """A server of the test's own, for tests that stop it (offline)."""
    process = start_site()
    yield process
    process.cleanup()


@dataclass
class Person:
    """A member with their own browser context (their own phone, in effect)."""

    context: BrowserContext
    page: Page
    username: str
    display_name: str
    base_url: str
    errors: list[str]

    @property
    def id(self) -> int:
        return int(self.api("GET", "/api/me")["member"]["id"])

    def api(self, method: str, path: str, data: Any = None) -> Any:
        """The JSON API with this person's session cookie, as their own pages would call it."""
        response = self.context.request.fetch(self.base_url + path, method=method, data=data,
                                              headers={"Origin": self.base_url})
        assert response.ok, f"{method} {path}: {response.status} {response.text()}"
        return response.json() if response.status != 204 else None

    def create_room(self, name: str) -> int:
        return int(self.api("POST", "/api/rooms", {"name": name, "visibility": "public"})["id"])

    def join(self, room_id: int) -> None:
        self.api("POST", f"/api/rooms/{room_id}/join")


def new_person(browser: Browser, server: ServerProcess, display_name: str = "", *,
               locale: str = "en-GB", width: int = 390, **options: Any) -> Person:
    """Registers through the form in a fresh context; the page ends on the room list."""
    context = browser.new_context(base_url=server.url, locale=locale, timezone_id="Africa/Nairobi",
                                  viewport={"width": width, "height": 780}, **options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    username = "m" + uuid.uuid4().hex[:10]
    display_name = display_name or username.title()
    page.goto("/register?next=/rooms")
    page.fill("#username", username)
    page.fill("#display_name", display_name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/rooms")
    return Person(context, page, username, display_name, server.url, errors)


@pytest.fixture
def people(browser: Browser) -> Iterator[list[Person]]:
    """Contexts made by new_person in a test go here and are closed after it."""
    made: list[Person] = []
    yield made
    for person in made:
        person.context.close()


def say(person: Person, body: str) -> None:
    """Writes a message in the open room's box and waits for it to be stored (shown with its seq)."""
    person.page.fill("#body", body)
    person.page.keyboard.press("Enter")
    expect(person.page.locator("#messages li[data-seq] .body").last).to_have_text(body)


def run_axe(page: Page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    assert AXE.exists(), f"{AXE} missing: run `make test` (or `npm ci --prefix tests/browser`)"
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Not add_script_tag: that inlines the script, which our CSP (script-src 'self') rightly refuses.
        # Evaluating through the DevTools protocol is outside the page's CSP.
        page.evaluate(AXE.read_text())
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["html"][:200] for n in v["nodes"][:5]]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
