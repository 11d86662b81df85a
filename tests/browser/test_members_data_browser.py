"""The settings page in Chromium: downloading one's data, deleting one's account with the password, and
what another member's open room shows at that moment ("a former member", the text gone)."""

from __future__ import annotations

import json

from playwright.sync_api import Browser, expect

from tests.browser.conftest import PASSWORD, Person, new_person, run_axe
from tests.support.services import ServerProcess


def test_a_member_downloads_their_data_then_deletes_their_account(
        browser: Browser, site: ServerProcess, people: list[Person]) -> None:
    amina, tomas = new_person(browser, site, "Amina W."), new_person(browser, site, "Tomás R.")
    people += [amina, tomas]
    room_id = amina.create_room("Supervision")
    tomas.join(room_id)
    amina.page.goto(f"/rooms/{room_id}")
    amina.page.fill("#body", "Notes from Tuesday's visit")
    amina.page.keyboard.press("Enter")
    tomas.page.goto(f"/rooms/{room_id}")
    expect(tomas.page.locator("#messages li[data-seq] .body")).to_have_text("Notes from Tuesday's visit")

    page = amina.page
    page.goto("/settings")
    with page.expect_download() as download:
        page.click("text=Download your data")
    exported = json.loads(open(download.value.path()).read())
    assert [m["body"] for m in exported["messages"]] == ["Notes from Tuesday's visit"]

    page.click("text=Delete your account")
    expect(page.locator("h1")).to_have_text("Delete your account")
    assert run_axe(page) == []
    page.fill("#password", "not my password")
    page.click("#delete-account button[type=submit]")
    expect(page.locator("#form-error")).to_be_visible()
    page.fill("#password", PASSWORD)
    page.click("#delete-account button[type=submit]")
    expect(page.locator("h1")).to_have_text("Account deleted")
    page.goto("/rooms")
    page.wait_for_url("**/login**")   # signed out: the session is gone

    # Tomás's open room blanks her message at once and names her "a former member".
    message = tomas.page.locator("#messages li[data-seq]").first
    expect(message.locator(".who")).to_have_text("a former member")
    expect(message.locator(".body")).to_have_class("body deleted")
    tomas.page.reload()
    expect(tomas.page.locator("#messages li[data-seq] .who").first).to_have_text("a former member")
    # The refused password's page is a 403: the only error either browser saw.
    assert not tomas.errors and [e for e in amina.errors if "403" not in e] == []
