"""One MessageSid delivered many times at once into two web processes: one message, one job."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import func, select

from mcof_comms.extensions import db
from mcof_comms.jobs import INBOUND, get_backend
from mcof_comms.models import Contact, Message
from tests.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    inbound_params,
    sign,
)
from tests.servers import gunicorn

PATH = "/webhooks/twilio/messages"


def test_concurrent_duplicates_into_two_processes(app_ctx):
    env = {
        "DATABASE_URL": TEST_DATABASE_URL,
        "REDIS_URL": TEST_REDIS_URL,
        "QUEUE_PREFIX": "mcoftest",
        "SECRET_KEY": "x",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
    }
    duplicates = [inbound_params(f"burst {n}", sender="+50937004444") for n in range(5)]
    with gunicorn(env, workers=2, threads=8) as base:
        url = base + PATH

        def deliver(params: dict[str, str]) -> int:
            headers = {"X-Twilio-Signature": sign(url, params)}
            return requests.post(url, data=params, headers=headers, timeout=10).status_code

        # each of 5 MessageSids delivered 8 times, all 40 requests at once
        batch = [params for params in duplicates for _ in range(8)]
        with ThreadPoolExecutor(max_workers=40) as pool:
            codes = list(pool.map(deliver, batch))

    assert codes == [200] * 40
    assert db.session.scalar(select(func.count()).select_from(Message)) == 5
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 1
    queue = get_backend().queue(INBOUND)
    assert queue.count == 5
    assert sorted(queue.job_ids) == sorted(
        f"inbound-{i}" for i in db.session.scalars(select(Message.id))
    )
