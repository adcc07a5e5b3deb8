"""Playwright against a live server on loopback: Debian's chromium, the test database, a fake
Twilio for sends. One browser per session; one server per test."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from mcof_comms.extensions import db
from mcof_comms.jobs import AppWorker, enqueue_due_scheduled_jobs, get_backend
from mcof_comms.models import Operation, Role, Urgency
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.console.helpers import PASSWORD, make_case, make_user, next_totp_code
from tests.fake_twilio import FakeTwilio

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (scripts/test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Live:
    url: str
    app: Flask
    operation: int
    health: int
    shelter: int
    sensitive: int
    references: dict[int, str]

    def drain(self) -> None:
        """Run the queued jobs (fan-out, sends) with real RQ workers in burst mode."""
        backend = get_backend(self.app)
        queues = backend.queues()
        for _ in range(10):
            enqueue_due_scheduled_jobs(queues)
            if not any(q.count for q in queues):
                break
            AppWorker(queues, app=self.app, connection=backend.connection).work(
                burst=True, logging_level="WARNING"
            )


@pytest.fixture
def live(make_app: Callable[..., Flask]) -> Iterator[Live]:
    with FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as fake:
        app = make_app(
            twilio_api_base_url=fake.base_url,
            public_base_url="http://localhost",
            outbound_rate_limit=0.0,
        )
        with app.app_context():
            from mcof_comms.setup import seed_defaults

            seed_defaults()
            db.session.commit()
            operation = db.session.query(Operation).filter_by(is_default=True).one()
            for role in Role:
                make_user(role)
            health = make_case(operation, "Pas de médicaments au centre", sector="health")
            shelter = make_case(
                operation, "La tente est cassée", sector="shelter_nfi", urgency=Urgency.URGENT
            )
            sensitive = make_case(
                operation, "He asked money for the card", sector="health", sensitive="fraud"
            )
            live_data = (
                operation.id,
                health.id,
                shelter.id,
                sensitive.id,
                {c.id: c.reference for c in (health, shelter, sensitive)},
            )
            db.session.remove()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Live(f"http://127.0.0.1:{server.server_port}", app, *live_data)
        finally:
            server.shutdown()
            thread.join(5)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="en-US")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def sign_in(page: Any, live: Live, role: Role) -> None:
    page.goto(live.url + "/login")
    page.get_by_label("Email").fill(f"{role.value}@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    if page.url.endswith("/login/code"):  # admins and protection focal points: a TOTP code
        page.get_by_label("Six-digit code").fill(
            next_totp_code(live.app, f"{role.value}@example.org")
        )
        page.get_by_role("button", name="Continue").click()
        page.wait_for_load_state()
