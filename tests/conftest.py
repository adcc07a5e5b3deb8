"""Fixtures: real PostgreSQL, real Redis, real RQ workers, requests signed for real.

``TEST_DATABASE_URL`` and ``TEST_REDIS_URL`` pick the services (defaults: database
``mcof_test`` on 127.0.0.1:5432, Redis db 13 on 127.0.0.1:6379). If either does not answer, the
suite stops with the reason instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis as redis_lib
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator

from config import Settings
from mcof_comms import create_app
from mcof_comms.extensions import db
from mcof_comms.jobs import AppWorker, enqueue_due_scheduled_jobs, get_backend
from tests.servers import recreate_database

TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/mcof_test"
)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "test-auth-token-0123456789abcdef"


def _ensure_database(url: str) -> None:
    try:
        recreate_database(url)
    except sa.exc.OperationalError as exc:
        pytest.exit(f"PostgreSQL is not reachable at {url}: {exc.orig}", returncode=3)


#: Set by the session fixture below: no test ever talks to the real Twilio API.
_default_twilio_url: str | None = None


@pytest.fixture(scope="session", autouse=True)
def default_fake_twilio() -> Iterator[str]:
    """A Twilio-compatible server on loopback that every app built by a test sends to."""
    global _default_twilio_url
    from tests.fake_twilio import FakeTwilio

    with FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as fake:
        _default_twilio_url = fake.base_url
        yield fake.base_url
        _default_twilio_url = None


def make_settings(**overrides: Any) -> Settings:
    base = Settings(
        env="test",
        database_url=TEST_DATABASE_URL,
        redis_url=TEST_REDIS_URL,
        secret_key="test-secret-key",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_sms_from="+15005550006",
        twilio_whatsapp_from="whatsapp:+14155238886",
        queue_prefix="mcoftest",
        stuck_after_seconds=0,
        twilio_api_base_url=_default_twilio_url,
        public_base_url="http://localhost",
    )
    return base.with_overrides(**overrides)


@pytest.fixture(scope="session")
def migrated_database() -> str:
    """Create the test database and apply every migration once per session."""
    _ensure_database(TEST_DATABASE_URL)
    try:
        redis_lib.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2).ping()
    except redis_lib.RedisError as exc:
        pytest.exit(f"Redis is not reachable at {TEST_REDIS_URL}: {exc}", returncode=3)
    from flask_migrate import upgrade

    app = create_app(make_settings())
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return TEST_DATABASE_URL


def _truncate(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        existing = set(sa.inspect(db.engine).get_table_names())
        names = [t.name for t in db.metadata.sorted_tables if t.name in existing]
        if not names:
            return
        tables = ", ".join(f'"{name}"' for name in names)
        with db.engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def settings(migrated_database: str) -> Settings:
    return make_settings()


@pytest.fixture
def redis(settings: Settings) -> Iterator[redis_lib.Redis]:
    connection = redis_lib.Redis.from_url(TEST_REDIS_URL)
    connection.flushdb()
    yield connection
    connection.flushdb()


@pytest.fixture
def app(settings: Settings, redis: redis_lib.Redis) -> Iterator[Flask]:
    app = create_app(settings)
    yield app
    _truncate(app)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def make_app(redis: redis_lib.Redis) -> Iterator[Callable[..., Flask]]:
    """Build extra apps with other settings; their tables are emptied and engines closed."""
    made: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        extra = create_app(make_settings(**overrides))
        made.append(extra)
        return extra

    yield make
    for extra in made:
        if extra.extensions["mcof_settings"].database_url == TEST_DATABASE_URL:
            _truncate(extra)
        with extra.app_context():
            db.engine.dispose()


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def sign(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


@pytest.fixture
def twilio_post(client: FlaskClient) -> Callable[..., Any]:
    """POST form params to a webhook, signed as Twilio signs them for ``http://localhost``."""

    def post(path: str, params: dict[str, str], *, signature: str | None = None, **kw: Any) -> Any:
        if signature is None:
            signature = sign(f"http://localhost{path}", params)
        headers = {"X-Twilio-Signature": signature} if signature else {}
        return client.post(path, data=params, headers=headers, **kw)

    return post


@pytest.fixture
def run_jobs(app: Flask) -> Callable[[], int]:
    """Drain every queue with a real RQ worker in burst mode, including due retries."""

    def run() -> int:
        backend = get_backend(app)
        queues = backend.queues()
        done = 0
        for _ in range(20):
            enqueue_due_scheduled_jobs(queues)
            if not any(q.count for q in queues):
                break
            worker = AppWorker(queues, app=app, connection=backend.connection)
            worker.work(burst=True, logging_level="WARNING")
            done += 1
        return done

    return run


_sid_counter = iter(range(1, 10**9))


def new_sid(prefix: str = "SM") -> str:
    return f"{prefix}{next(_sid_counter):032x}"


def inbound_params(
    body: str = "Hello", sender: str = "+50937001234", **extra: str
) -> dict[str, str]:
    params = {
        "MessageSid": new_sid(),
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": "+15005550006",
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    params.update(extra)
    return params
