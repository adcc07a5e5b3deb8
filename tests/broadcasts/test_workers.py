"""Real worker processes (``flask worker``) against the loopback fake: the shared rate limit,
a reply overtaking a running broadcast, and a worker killed mid-broadcast."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
from rq.registry import StartedJobRegistry
from sqlalchemy import func, select, text

from mcof_comms.broadcasts.jobs import enqueue_fan_out
from mcof_comms.broadcasts.services import create_broadcast, request_send
from mcof_comms.extensions import db
from mcof_comms.jobs import BULK, get_backend
from mcof_comms.models import Contact, Message, MessageKind, MessageStatus
from mcof_comms.outbound.services import BUCKET_SIZE, enqueue_outbound, queue_outbound
from tests.broadcasts.conftest import make_operation, seed_contacts
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, TEST_DATABASE_URL, TEST_REDIS_URL
from tests.outbound.conftest import drain_queues
from tests.servers import start_worker

TEXT = {"en": "Water trucking resumes tomorrow at 8 at the market."}


@pytest.fixture
def workers(fake, tmp_path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start ``flask --app app worker`` processes; all are killed at the end."""
    started: list[subprocess.Popen[bytes]] = []
    log_dir = tmp_path

    def start(rate: float, queues: str = "") -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "DATABASE_URL": TEST_DATABASE_URL,
            "REDIS_URL": TEST_REDIS_URL,
            "QUEUE_PREFIX": "mcoftest",
            "SECRET_KEY": "x",
            "SWEEP_INTERVAL_SECONDS": "3600",
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_SMS_FROM": "+15005550006",
            "TWILIO_API_BASE_URL": fake.base_url,
            "PUBLIC_BASE_URL": "http://localhost",
            "OUTBOUND_RATE_LIMIT": str(rate),
        }
        args = ["--queues", queues] if queues else []
        with open(log_dir / f"worker-{len(started)}.log", "wb") as log:
            process = start_worker(env, *args, log=log)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def start_broadcast(operation, before_boundary: int) -> int:
    """Create and start a broadcast whose first ``before_boundary`` rows end an id range."""
    last = db.session.scalar(select(func.max(Message.id))) or 0
    first = ((last + before_boundary) // BUCKET_SIZE + 1) * BUCKET_SIZE - before_boundary
    db.session.execute(text(f"ALTER SEQUENCE message_id_seq RESTART WITH {first}"))
    broadcast = create_broadcast(operation, actor=None, base_language="en", translations=TEXT)
    request_send(broadcast, actor=None)
    db.session.commit()
    enqueue_fan_out(broadcast.id)
    return broadcast.id


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_rate_limit_holds_across_two_workers(send_app, fake, workers):
    operation = make_operation()
    seed_contacts(operation, 120)
    start_broadcast(operation, 60)  # two ranges: both workers send at once
    rate = 30
    workers(rate)
    workers(rate)
    wait_for(lambda: len(fake.sent) >= 120)
    times = sorted(m.created_at for m in fake.sent)
    elapsed = (times[-1] - times[0]).total_seconds()
    # one shared limit: a second's burst, then 30/s -> at least 3 s for 120 (two separate
    # limits would take about 1 s)
    assert elapsed >= (120 - rate) / rate * 0.9
    for i, start in enumerate(times):
        in_window = sum(1 for t in times[i:] if (t - start).total_seconds() < 1.0)
        assert in_window <= 2 * rate
    assert len({m.to for m in fake.sent}) == 120


def test_a_reply_overtakes_a_running_broadcast(send_app, fake, workers):
    operation = make_operation()
    seed_contacts(operation, 600)
    replied = seed_contacts(operation, 1)[0]
    # two ranges of 300 rows, 3 s each at 100/s (a burst is at most one second's worth)
    start_broadcast(operation, 300)
    workers(100)  # one worker: the reply must jump the queue, not find a free worker
    wait_for(lambda: len(fake.sent) >= 30)
    contact = db.session.get_one(Contact, replied)
    reply = queue_outbound(contact, "Your case is being handled.", kind=MessageKind.REPLY)
    db.session.commit()
    enqueue_outbound([reply.id])
    reply_to = reply.to_address
    wait_for(lambda: fake.count_to(reply_to) == 1)
    at_reply = len(fake.sent)
    wait_for(lambda: len(fake.sent) >= 601)
    sent_after = [m for m in fake.sent if m.created_at > fake.sent_to(reply_to)[0].created_at]
    # the range being sent stepped aside after the group in progress (90: 10 of a second's
    # 100 are kept for replies), instead of sending the rest of its range first
    assert at_reply <= 30 + 90 + 1
    assert len(sent_after) >= 600 - at_reply


def test_worker_killed_mid_broadcast_resumes_without_duplicates(send_app, fake, workers):
    operation = make_operation()
    seed_contacts(operation, 400)
    fake.latency = 0.01
    fake.drop_after_accept(3)  # accepted by "Twilio", but the worker never hears it
    broadcast_id = start_broadcast(operation, 200)
    worker = workers(200)
    wait_for(lambda: len(fake.sent) >= 120)
    os.killpg(worker.pid, signal.SIGKILL)  # mid-send: rows claimed, some sent, not recorded
    worker.wait(10)
    at_kill = len(fake.sent)
    assert at_kill < 400
    db.session.expire_all()
    sending = db.session.scalar(
        select(func.count()).where(
            Message.broadcast_id == broadcast_id, Message.status == MessageStatus.SENDING
        )
    )
    assert sending >= 3  # at least the dropped ones are in doubt

    # RQ notices the dead worker once the job's heartbeat expires; fast-forward that clock
    registry = StartedJobRegistry(queue=get_backend(send_app).queue(BULK))
    registry.cleanup(int(time.time()) + 3600)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        drain_queues(send_app)
        done = db.session.scalar(
            select(func.count()).where(
                Message.broadcast_id == broadcast_id, Message.status == MessageStatus.ACCEPTED
            )
        )
        if done == 400:
            break
    assert done == 400
    assert len(fake.sent) == 400  # counted at the fake: nobody got it twice
    assert len({m.to for m in fake.sent}) == 400
    reconciled = db.session.scalar(
        select(func.count()).where(
            Message.broadcast_id == broadcast_id,
            Message.send_attempts == 1,
            Message.external_id.in_([m.sid for m in fake.sent[:at_kill]]),
        )
    )
    assert reconciled == at_kill
