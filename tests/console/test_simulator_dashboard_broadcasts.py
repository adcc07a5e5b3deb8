"""Simulator through the real pipeline, demo data, the dashboard and broadcast pages."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from mcof_comms.extensions import db
from mcof_comms.models import (
    Broadcast,
    BroadcastStatus,
    Case,
    Direction,
    FeedbackType,
    Message,
    Operation,
    Role,
    User,
)
from tests.console.conftest import World
from tests.console.helpers import csrf, login, make_case


def test_simulator_message_is_triaged_and_answered_without_a_phone(
    app: Flask, world: World, triage_ready: None
) -> None:
    client = app.test_client()
    login(client, "coordinator@example.org")
    response = client.post(
        "/simulator",
        data={
            "phone": "+509 3700 9999",
            "channel": "sms",
            "body": "There are people trapped under the collapsed house, please help",
            "csrf_token": csrf(client, "/simulator"),
        },
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "people trapped" in page
    with app.app_context():
        message = db.session.scalars(select(Message).where(Message.to_address == "simulator")).one()
        assert message.from_address == "sim:+50937009999"
        case = db.session.get_one(Case, message.case_id)
        assert case.urgency.value == "life_threatening"
        assert case.reference in page
        replies = db.session.scalars(
            select(Message).where(
                Message.contact_id == message.contact_id, Message.direction == Direction.OUT
            )
        ).all()
        assert replies  # the acknowledgement, shown on the simulator page
        assert all(r.to_address.startswith("sim:") for r in replies if r.to_address)


def test_demo_data_seeds_staff_of_every_role_and_a_multilingual_inbox(app: Flask) -> None:
    from mcof_comms.demo import is_empty, seed_demo

    with app.app_context():
        assert is_empty()
        result = seed_demo(40)
        assert result.messages == 40
        assert not is_empty()
        roles = set(db.session.scalars(select(User.role)))
        assert roles == set(Role)
        languages = set(db.session.scalars(select(Case.language).distinct()))
        assert len(languages - {None}) >= 3
        assert db.session.scalar(select(func.count(Case.id))) == result.cases > 0


def test_dashboard_shows_loop_closure_and_a_corrective_broadcast_link(
    app: Flask, world: World
) -> None:
    with app.app_context():
        op = db.session.get_one(Operation, world.operation)
        for body in ("They say the vaccine makes children sick", "the vaccine makes people sick"):
            make_case(op, body, feedback_type=FeedbackType.RUMOUR, language="en")
    client = app.test_client()
    login(client, "responder@example.org")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "vaccine" in page
    assert "/broadcasts/new?contact_ids=" in page
    assert page.count("<svg") >= 4


def compose(app: Flask, **fields: Any) -> tuple[FlaskClient, str, TestResponse]:
    """A responder fills in the broadcast form: their client, CSRF token and the answer."""
    client = app.test_client()
    login(client, "responder@example.org")
    token = csrf(client, "/broadcasts/new")
    response = client.post("/broadcasts/new", data={**fields, "csrf_token": token})
    return client, token, response


def test_broadcast_compose_preview_and_send(app: Flask, world: World) -> None:
    client, token, response = compose(
        app,
        operation_id=str(world.operation),
        base_language="fr",
        text_fr="Distribution demain à 9 h.",
        text_ar="التوزيع غدا الساعة التاسعة.",
        channels=["sms"],
    )
    assert response.status_code == 302
    preview = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'lang="ar" dir="rtl"' in preview
    count = client.get(f"/broadcasts/audience-count?operation_id={world.operation}").get_json()
    assert count["count"] == 2  # two people with non-sensitive cases; the sensitive one excluded
    with app.app_context():
        broadcast = db.session.scalars(select(Broadcast)).one()
        broadcast_id = broadcast.id
    client.post(f"/broadcasts/{broadcast_id}/send", data={"csrf_token": token})
    with app.app_context():
        assert db.session.get_one(Broadcast, broadcast_id).status in (
            BroadcastStatus.SENDING,
            BroadcastStatus.SENT,
        )
    progress = client.get(f"/broadcasts/{broadcast_id}/progress").get_json()
    assert progress["total"] == 2
    assert "broadcast" in client.get("/broadcasts").get_data(as_text=True).lower()


def test_scheduled_broadcast_waits_for_its_time_in_the_operation_time_zone(
    app: Flask, world: World
) -> None:
    with app.app_context():
        operation = db.session.get_one(Operation, world.operation)
        operation.timezone = "America/Port-au-Prince"
        db.session.commit()
    client, token, response = compose(
        app,
        operation_id=str(world.operation),
        base_language="en",
        text_en="Distribution on Friday.",
        scheduled_at="2030-01-04T09:00",
    )
    assert response.status_code == 302
    with app.app_context():
        broadcast = db.session.scalars(select(Broadcast)).one()
        assert broadcast.scheduled_at.isoformat() == "2030-01-04T14:00:00+00:00"  # 09:00 UTC-5
        broadcast_id = broadcast.id
    client.post(f"/broadcasts/{broadcast_id}/send", data={"csrf_token": token})
    with app.app_context():
        assert db.session.get_one(Broadcast, broadcast_id).status is BroadcastStatus.SCHEDULED
