"""A broadcast range steps aside between paced groups: for a waiting reply, and at its deadline.

Run in-process against real PostgreSQL, Redis and RQ, with the shared rate limit on: the bulk
job sends one group (a second's worth, less the reserve kept for replies), sees the reply
waiting, and leaves the rest of its range queued for a continuation job.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask import Flask
from rq.registry import FinishedJobRegistry
from sqlalchemy import func, select

from mcof_comms.broadcasts.jobs import enqueue_fan_out
from mcof_comms.broadcasts.services import create_broadcast, request_send
from mcof_comms.extensions import db
from mcof_comms.jobs import BULK, REPLIES, get_backend
from mcof_comms.models import Contact, Message, MessageKind, MessageStatus
from mcof_comms.outbound.dispatch import Dispatcher, chunked
from mcof_comms.outbound.jobs import send_outbound_bucket
from mcof_comms.outbound.services import bucket_of, enqueue_outbound, queue_outbound
from tests.broadcasts.conftest import make_operation, seed_contacts
from tests.fake_twilio import FakeTwilio
from tests.outbound.conftest import drain_queues

TEXT = {"en": "Water trucking resumes tomorrow at 8 at the market."}
RATE = 50.0  # per second: a bulk group is 45 (5 kept for replies)


@pytest.fixture
def paced_app(make_app, fake: FakeTwilio) -> Iterator[Flask]:
    app = make_app(
        twilio_api_base_url=fake.base_url,
        public_base_url="http://localhost",
        outbound_rate_limit=RATE,
    )
    with app.app_context():
        yield app


def queued_broadcast(app: Flask, recipients: int) -> list[int]:
    operation = make_operation()
    seed_contacts(operation, recipients)
    broadcast = create_broadcast(operation, actor=None, base_language="en", translations=TEXT)
    request_send(broadcast, actor=None)
    db.session.commit()
    enqueue_fan_out(broadcast.id)
    drain_queues(app, ["broadcasts"])
    ids = list(
        db.session.scalars(
            select(Message.id).where(Message.broadcast_id == broadcast.id).order_by(Message.id)
        )
    )
    assert len(ids) == recipients
    return ids


def count(*statuses: MessageStatus) -> int:
    db.session.expire_all()
    return db.session.scalar(
        select(func.count()).where(Message.broadcast_id.is_not(None), Message.status.in_(statuses))
    )


def test_a_waiting_reply_goes_between_two_groups_of_a_broadcast(paced_app, fake):
    ids = queued_broadcast(paced_app, 80)
    assert len({bucket_of(i) for i in ids}) == 1
    get_backend().queue(BULK).empty()  # this test runs the range's job itself
    contact = db.session.scalars(select(Contact).order_by(Contact.id.desc())).first()
    reply = queue_outbound(contact, "Your case is being handled.", kind=MessageKind.REPLY)
    db.session.commit()
    enqueue_outbound([reply.id])
    reply_to = reply.to_address
    assert get_backend().queue(REPLIES).count == 1

    send_outbound_bucket(bucket_of(ids[0]))

    first_group = len(fake.sent)
    assert 0 < first_group <= RATE - 5  # one group, then it stepped aside
    assert count(MessageStatus.SENDING) == 0  # nothing claimed that was not sent
    assert count(MessageStatus.QUEUED) == 80 - first_group
    assert get_backend().queue(BULK).count == 1  # its continuation, behind the reply

    drain_queues(paced_app)
    order = [m.to for m in fake.sent]
    assert order.index(reply_to) == first_group  # the very next message out
    assert len(fake.sent) == 81
    assert count(MessageStatus.ACCEPTED) == 80


def test_a_bulk_range_stops_at_its_deadline_between_groups(paced_app, fake):
    ids = queued_broadcast(paced_app, 200)
    started = time.monotonic()
    stats = Dispatcher(deadline=time.monotonic() + 0.3, bulk=True).run(chunked(ids, 200))
    elapsed = time.monotonic() - started
    # one chunk of 200 at 50/s would take about 3 s; it stopped after the group in progress
    assert stats.more
    assert elapsed < 2.0
    assert 0 < stats.accepted < 200
    assert len(fake.sent) == stats.accepted
    assert count(MessageStatus.SENDING) == 0
    assert count(MessageStatus.QUEUED) == 200 - stats.accepted


def test_a_worker_that_serves_only_bulk_does_not_step_aside(paced_app, fake):
    ids = queued_broadcast(paced_app, 60)
    contact = db.session.scalars(select(Contact).order_by(Contact.id.desc())).first()
    reply = queue_outbound(contact, "Your case is being handled.", kind=MessageKind.REPLY)
    db.session.commit()
    enqueue_outbound([reply.id])
    drain_queues(paced_app, [BULK])  # a dedicated bulk worker: the reply is another's job
    assert len(fake.sent) == len(ids)
    # one job per range, none cut short to make way for a reply it would never take
    finished = FinishedJobRegistry(queue=get_backend().queue(BULK))
    assert finished.count == len({bucket_of(i) for i in ids})
    assert get_backend().queue(REPLIES).count == 1
    assert count(MessageStatus.QUEUED) == 0
