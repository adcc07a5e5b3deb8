"""The console in a real browser: a coordinator's case, a responder's broadcast, Arabic, scope."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from mcof_comms.models import Role
from tests.browser.conftest import Live, sign_in

pytestmark = pytest.mark.browser


def test_coordinator_filters_opens_relabels_replies_and_closes(page: Any, live: Live) -> None:
    sign_in(page, live, Role.COORDINATOR)
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    page.locator("#filters select[name=sector]").select_option("shelter_nfi")
    page.locator("#filters").get_by_role("button", name="Filter").click()
    rows = page.locator("table.inbox tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(live.references[live.shelter])
    rows.first.get_by_role("link", name=live.references[live.shelter]).click()

    expect(page.get_by_role("heading", level=1)).to_contain_text(live.references[live.shelter])
    expect(page.locator(".messages")).to_contain_text("La tente est cassée")
    page.get_by_label("Sector").select_option("health")
    page.get_by_label("Feedback type").select_option("complaint")
    page.get_by_role("button", name="Save labels").click()
    expect(page.locator("#case-sector")).to_have_text("health")
    expect(page.locator("#case-type")).to_have_text("Complaint")

    page.get_by_label("Reply", exact=True).fill("Une équipe passe demain matin.")
    expect(page.locator("#reply-segments")).to_contain_text("1 SMS")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator(".msg.out")).to_contain_text("Une équipe passe demain matin.")

    page.get_by_label("New status").select_option("closed")
    page.get_by_role("button", name="Change status").click()
    expect(page.locator("#case-status")).to_have_text("Closed")


def test_responder_sends_a_broadcast_and_watches_progress(page: Any, live: Live) -> None:
    sign_in(page, live, Role.RESPONDER)
    page.goto(live.url + "/broadcasts/new")
    page.get_by_label("Text in en").fill("Distribution tomorrow at 9 at the school.")
    page.get_by_role("tab", name="en").focus()  # keyboard: arrows move between language tabs
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="ar")).to_have_attribute("aria-selected", "true")
    page.get_by_label("Text in ar").fill("التوزيع غدا في الساعة التاسعة في المدرسة.")
    expect(page.locator("#seg-ar")).to_contain_text("UCS-2")
    expect(page.locator("#recipient-count")).to_have_text(re.compile(r"^\d+$"))
    page.get_by_role("button", name="Save and preview").click()

    expect(page.locator("figure.phone[data-language=ar]")).to_have_attribute("dir", "rtl")
    expect(page.locator("figure.phone[data-language=en]")).to_have_attribute("dir", "ltr")
    page.get_by_role("button", name="Send now").click()
    bar = page.locator("#broadcast-progress")
    expect(bar).to_be_visible()
    live.drain()  # the fan-out and the sends run on real RQ workers against the fake Twilio
    expect(bar).to_have_attribute("data-done", re.compile(r"^[1-9]\d*$"), timeout=15_000)
    done, total = bar.get_attribute("data-done"), bar.get_attribute("data-total")
    assert done == total


def test_switching_the_ui_to_arabic_turns_the_page_right_to_left(page: Any, live: Live) -> None:
    sign_in(page, live, Role.COORDINATOR)
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    page.locator("#locale").select_option("ar")
    page.get_by_role("button", name="Change").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    page.goto(live.url + "/inbox")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")


def test_sector_focal_point_cannot_open_other_sectors_or_sensitive_cases(
    page: Any, live: Live
) -> None:
    sign_in(page, live, Role.SECTOR_FOCAL_POINT)
    expect(page.locator("table.inbox")).to_contain_text(live.references[live.health])
    expect(page.locator("table.inbox")).not_to_contain_text(live.references[live.shelter])
    expect(page.locator("table.inbox")).not_to_contain_text(live.references[live.sensitive])
    for case_id in (live.shelter, live.sensitive):
        response = page.goto(f"{live.url}/cases/{case_id}")
        assert response.status == 404  # as for a case that does not exist: nothing revealed
        expect(page.locator("body")).not_to_contain_text(live.references[case_id])
    response = page.goto(f"{live.url}/cases/{live.health}")
    assert response.status == 200


def test_inbox_and_case_fit_a_phone_screen(browser: Any, live: Live) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    context.set_default_timeout(10_000)
    phone = context.new_page()
    try:
        sign_in(phone, live, Role.COORDINATOR)
        expect(phone.get_by_role("heading", name="Inbox")).to_be_visible()
        reference = live.references[live.shelter]
        expect(phone.get_by_role("link", name=reference)).to_be_visible()
        # nothing wider than the screen: no sideways scrolling to read a case
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390 + 1
        phone.get_by_role("link", name=reference).click()
        expect(phone.get_by_role("heading", level=1)).to_contain_text(reference)
        expect(phone.get_by_role("button", name="Send reply")).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    finally:
        context.close()
