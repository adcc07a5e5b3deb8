"""Fixtures for sending: the loopback Twilio fake, an app pointed at it, a worker drain."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from mcof_comms.extensions import db
from mcof_comms.jobs import AppWorker, enqueue_due_scheduled_jobs, get_backend
from mcof_comms.models import Contact, Operation
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.fake_twilio import FakeTwilio


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as server:
        yield server


@pytest.fixture
def send_app(make_app: Callable[..., Flask], fake: FakeTwilio) -> Iterator[Flask]:
    """An app whose Twilio client talks to the fake, with status callbacks on localhost."""
    app = make_app(
        twilio_api_base_url=fake.base_url,
        public_base_url="http://localhost",
        outbound_rate_limit=0.0,
    )
    app.config["OUTBOUND_SEND_LEASE_SECONDS"] = 0
    with app.app_context():
        yield app


def drain_queues(app: Flask, stages: list[str] | None = None, rounds: int = 20) -> int:
    """Run real RQ workers in burst mode until the queues are empty (retries included)."""
    backend = get_backend(app)
    queues = backend.queues(stages) if stages else backend.queues()
    done = 0
    for _ in range(rounds):
        _run_due_now(queues)
        if not any(q.count for q in queues):
            break
        AppWorker(queues, app=app, connection=backend.connection).work(
            burst=True, logging_level="WARNING"
        )
        done += 1
    db.session.remove()
    return done


def _run_due_now(queues: list[Any]) -> None:
    """Move scheduled retries onto their queues now: tests do not wait out the backoff."""
    from rq.registry import ScheduledJobRegistry

    for queue in queues:
        registry = ScheduledJobRegistry(queue=queue)
        for job_id in registry.get_job_ids():
            job = queue.fetch_job(job_id)
            registry.remove(job_id)
            if job is not None:
                queue.enqueue_job(job)
    enqueue_due_scheduled_jobs(queues)


@pytest.fixture
def drain(send_app: Flask) -> Callable[..., int]:
    return lambda stages=None: drain_queues(send_app, stages)


def make_operation(**fields: Any) -> Operation:
    values: dict[str, Any] = {
        "slug": "goma",
        "name": "Goma response",
        "timezone": "Africa/Lubumbashi",
        "default_language": "fr",
        "languages": ["fr", "sw", "en"],
    }
    values.update(fields)
    operation = Operation(**values)
    db.session.add(operation)
    db.session.commit()
    return operation


def contact_by_phone(phone: str) -> Contact:
    from sqlalchemy import select

    return db.session.scalars(select(Contact).where(Contact.phone == phone)).one()
