"""Helpers for triage tests: post through the real webhook, drain the inbound queue with a
real RQ worker, and make API users with tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import select

from mcof_comms.auth.tokens import create_token
from mcof_comms.auth.users import create_user
from mcof_comms.console.services import set_operations
from mcof_comms.extensions import db
from mcof_comms.jobs import INBOUND, AppWorker, get_backend
from mcof_comms.models import Case, Direction, Message, MessageKind, Role
from tests.conftest import inbound_params

PATH = "/webhooks/twilio/messages"


def send(twilio_post: Callable[..., Any], body: str, sender: str = "+50937001234", **extra: str):
    """Deliver one inbound SMS through the signed webhook; returns the response."""
    response = twilio_post(PATH, inbound_params(body, sender, **extra))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def run_inbound(app: Flask) -> None:
    """Triage everything waiting, with a real RQ worker on the inbound queue only (the send
    queues belong to the outbound path, which has its own tests)."""
    backend = get_backend(app)
    worker = AppWorker([backend.queue(INBOUND)], app=app, connection=backend.connection)
    worker.work(burst=True, logging_level="WARNING")


def inbound(body: str) -> Message:
    return db.session.scalars(
        select(Message).where(Message.direction == Direction.IN, Message.body == body)
    ).one()


def replies_to(message: Message) -> list[Message]:
    return list(
        db.session.scalars(
            select(Message)
            .where(Message.direction == Direction.OUT, Message.reply_to_id == message.id)
            .order_by(Message.id)
        )
    )


def system_replies(contact_id: int) -> list[Message]:
    return list(
        db.session.scalars(
            select(Message)
            .where(
                Message.direction == Direction.OUT,
                Message.kind == MessageKind.SYSTEM,
                Message.contact_id == contact_id,
            )
            .order_by(Message.id)
        )
    )


def all_cases() -> list[Case]:
    return list(db.session.scalars(select(Case).order_by(Case.id)))


def api_token(role: Role, *, sectors: list[str] | None = None, email: str | None = None) -> str:
    """A user of ``role`` and a bearer token for them (committed)."""
    user = create_user(
        email or f"{role.value}-{'-'.join(sectors or [])}@example.org",
        "a-long-password-123",
        role,
        sectors=sectors or [],
    )
    db.session.flush()
    set_operations(user, [], all_operations=True)  # the explicit grant (no membership: none)
    token = create_token(user, "tests")
    db.session.commit()
    return token


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
