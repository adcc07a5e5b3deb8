"""Leaks a security review found in the console, demo data and the app's set-up (issue 11:
items 2, 3, 4, 5, 9, 10 and 11), each closed."""

from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy import select, update

from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import AuditEntry, Case, Channel, ContactChannel, Operation, Role, User
from tests.console.conftest import World
from tests.console.helpers import csrf, login, make_user


def _client(app: Flask, role: Role, **kw: object):
    client = app.test_client(**kw)
    assert login(client, f"{role.value}@example.org").status_code == 302
    return client


def _simulated(app: Flask, case_id: int) -> str:
    """Make the contact of ``case_id`` a simulator contact; returns the phone to type."""
    with app.app_context():
        case = db.session.get_one(Case, case_id)
        db.session.execute(
            update(ContactChannel)
            .where(ContactChannel.contact_id == case.contact_id)
            .values(address="sim:+50937009999")
        )
        db.session.commit()
    return "+50937009999"


# --- 2. the simulator: visibility rule, audit, no audiences, no production ------------------


def test_the_simulator_shows_a_sensitive_report_only_by_the_rule_and_audits_it(
    app: Flask, world: World
) -> None:
    phone = _simulated(app, world.sensitive)
    words = "Someone asked money for the card"
    coordinator = _client(app, Role.COORDINATOR).get(f"/simulator?phone={phone}")
    assert words not in coordinator.get_data(as_text=True)
    admin = _client(app, Role.ADMIN).get(f"/simulator?phone={phone}")
    assert words in admin.get_data(as_text=True)
    with app.app_context():
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "view_sensitive_case")
        ).all()
        assert [(e.object_id, e.detail["via"]) for e in entries] == [(world.sensitive, "simulator")]


def test_simulated_people_are_in_no_broadcast_audience(app: Flask, world: World) -> None:
    from mcof_comms.console.broadcasting import count_recipients

    _simulated(app, world.health)
    with app.app_context():
        operation = db.session.get_one(Operation, world.operation)
        health = db.session.get_one(Case, world.health)
        assert count_recipients({}, operation) == 1  # the shelter case's person only
        assert count_recipients({"contacts": [health.contact_id]}, operation) == 0


def test_there_is_no_simulator_in_production(make_app) -> None:
    app = make_app(env="production", session_cookie_secure=True)
    with app.app_context():
        make_user(Role.COORDINATOR)
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    assert login(client, "coordinator@example.org").status_code == 302
    assert client.get("/simulator", base_url="https://localhost").status_code == 404


# --- 3. demo data and demo logins never in production ---------------------------------------


def test_demo_data_is_refused_in_production_and_demo_logins_cannot_sign_in(
    make_app, caplog
) -> None:
    from mcof_comms.auth.login import authenticate
    from mcof_comms.demo import DEMO_DOMAIN, DEMO_PASSWORD

    production = make_app(env="production")
    result = production.test_cli_runner().invoke(args=["demo-data", "--messages", "1"])
    assert result.exit_code != 0
    assert "production" in result.output
    with production.app_context():
        assert db.session.scalar(select(User.id)) is None
        from argon2 import PasswordHasher

        user = User(
            email=f"admin@{DEMO_DOMAIN}",
            password_hash=PasswordHasher(time_cost=1, memory_cost=1024).hash(DEMO_PASSWORD),
            role=Role.COORDINATOR,
            sectors=[],
        )
        db.session.add(user)
        db.session.commit()
        assert authenticate(f"admin@{DEMO_DOMAIN}", DEMO_PASSWORD) is None
    with caplog.at_level(logging.WARNING, logger="mcof_comms"):
        make_app(env="production")
    assert "demo accounts" in caplog.text
    development = make_app()
    with development.app_context():
        assert authenticate(f"admin@{DEMO_DOMAIN}", DEMO_PASSWORD) is not None


# --- 4. an export audits the sensitive cases it holds ---------------------------------------


def test_an_export_records_each_sensitive_case_it_contained(app: Flask, world: World) -> None:
    client = _client(app, Role.PROTECTION_FOCAL_POINT)
    assert client.get("/exports/messages.csv").status_code == 200
    with app.app_context():
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "view_sensitive_case")
        ).all()
        assert [(e.object_id, e.detail["via"]) for e in entries] == [(world.sensitive, "export")]


# --- 5. unticking a user's last operation leaves them in none -------------------------------


def test_unticking_the_last_operation_leaves_a_user_in_no_operation(
    app: Flask, world: World
) -> None:
    admin = _client(app, Role.ADMIN)
    coordinator_id = world.users[Role.COORDINATOR]
    response = admin.post(
        f"/admin/users/{coordinator_id}/operations",
        data={"csrf_token": csrf(admin, "/admin/users")},  # nothing ticked
    )
    assert response.status_code == 302
    coordinator = _client(app, Role.COORDINATOR)
    assert coordinator.get(f"/cases/{world.health}").status_code == 404
    with app.app_context():
        reference = db.session.get_one(Case, world.health).reference
    assert reference not in coordinator.get("/inbox").get_data(as_text=True)
    admin.post(
        f"/admin/users/{coordinator_id}/operations",
        data={"all_operations": "1", "csrf_token": csrf(admin, "/admin/users")},
    )
    assert coordinator.get(f"/cases/{world.health}").status_code == 200


# --- 9. one answer for a case one may not open and a missing one; audience counts -----------


def test_a_sensitive_case_and_a_missing_one_get_the_same_answer(app: Flask, world: World) -> None:
    client = _client(app, Role.COORDINATOR)
    assert client.get(f"/cases/{world.sensitive}").status_code == 404
    assert client.get("/cases/987654").status_code == 404


def test_the_audience_count_of_one_contact_reveals_no_opt_out_or_sensitive_case(
    app: Flask, world: World
) -> None:
    from mcof_comms.console.broadcasting import count_recipients

    with app.app_context():
        operation = db.session.get_one(Operation, world.operation)
        health = db.session.get_one(Case, world.health)
        sensitive = db.session.get_one(Case, world.sensitive)
        before = count_recipients({"contacts": [health.contact_id]}, operation)
        channel = db.session.scalars(
            select(ContactChannel).where(
                ContactChannel.contact_id == health.contact_id,
                ContactChannel.channel == Channel.SMS,
            )
        ).one()
        channel.opted_out_at = utcnow()
        db.session.commit()
        assert count_recipients({"contacts": [health.contact_id]}, operation) == before == 1
        assert count_recipients({"contacts": [sensitive.contact_id]}, operation) == 1
        # and nobody of them is reached: the exclusions hold when sending
        assert count_recipients({}, operation) == 1  # the shelter case's person only


# --- 10. security headers on every response ---------------------------------------------------


def test_every_response_carries_the_security_headers(client, make_app, world: World) -> None:
    for response in (
        client.get("/healthz"),
        client.get("/api/v1/messages"),  # 401
        client.post("/webhooks/twilio/messages"),  # 403, unsigned
        client.get("/login"),
    ):
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "Strict-Transport-Security" not in response.headers
    production = make_app(env="production").test_client()
    hsts = production.get("/healthz").headers["Strict-Transport-Security"]
    assert hsts.startswith("max-age=31536000")


# --- 11. no safeguarding category in log lines --------------------------------------------------


def test_an_alert_log_line_names_no_safeguarding_category(app: Flask, world: World, caplog):
    from mcof_comms.cases.services import raise_alert
    from mcof_comms.models import Message

    with app.app_context(), caplog.at_level(logging.WARNING):
        case = db.session.get_one(Case, world.sensitive)
        message = db.session.scalars(select(Message).where(Message.case_id == case.id)).one()
        raise_alert(case, message, ["sensitive:fraud"])
        db.session.commit()
    assert f"ALERT case {world.sensitive}" in caplog.text
    assert "fraud" not in caplog.text
