"""Production refuses weak secrets and plain-http URLs; private files; pseudonym keys; numbers
without ``+`` and gunicorn's access log redacted (issue 11: items 10 and 11)."""

from __future__ import annotations

import hashlib
import hmac
import io
import stat

import pytest

from config import ConfigError, Settings, _dev_secret
from mcof_comms.logs import GunicornLogger, redact

PRODUCTION = {
    "MCOF_ENV": "production",
    "DATABASE_URL": "postgresql://u@h/db",
    "REDIS_URL": "redis://h:6379/0",
    "SECRET_KEY": "9f" * 32,
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_SMS_FROM": "+15005550006",
    "PUBLIC_BASE_URL": "https://hotline.example.org",
}


def test_production_accepts_a_strong_key_and_an_https_url() -> None:
    assert Settings.from_env(PRODUCTION).is_production


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("SECRET_KEY", "short-but-set", "SECRET_KEY"),
        ("SECRET_KEY", "test-secret-key", "SECRET_KEY"),
        ("SECRET_KEY", "demo-password", "SECRET_KEY"),
        ("PUBLIC_BASE_URL", "http://hotline.example.org", "PUBLIC_BASE_URL"),
    ],
)
def test_production_refuses_weak_secrets_and_plain_http(name: str, value: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.from_env({**PRODUCTION, name: value})


def test_the_development_secret_file_is_private(tmp_path) -> None:
    key = _dev_secret(tmp_path / "instance")
    path = tmp_path / "instance" / "secret_key"
    assert path.read_text() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "instance").stat().st_mode) == 0o700


def test_export_pseudonyms_are_not_keyed_with_the_session_key(app_ctx) -> None:
    from mcof_comms.console.services import pseudonym

    session_keyed = hmac.new(b"test-secret-key", b"contact:7", hashlib.sha256).hexdigest()
    assert pseudonym(7) != "c-" + session_keyed[:12]
    assert pseudonym(7) == pseudonym(7)
    separate = Settings(secret_key="a" * 40, pseudonym_key="b" * 40)
    assert separate.export_pseudonym_key == "b" * 40
    derived = Settings(secret_key="a" * 40)
    assert derived.export_pseudonym_key not in ("", "a" * 40)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("GET /inbox?q=50937001234 HTTP/1.1", "GET /inbox?q=[number] HTTP/1.1"),
        ("phone=0970001234&x=1", "phone=[number]&x=1"),
        ("message 1234567 of case 7654321", "message 1234567 of case 7654321"),  # our ids
        ("2026-12-04 18:53:02,404 took 0.1234567 s", "2026-12-04 18:53:02,404 took 0.1234567 s"),
    ],
)
def test_numbers_without_a_plus_are_redacted(raw: str, clean: str) -> None:
    assert redact(raw) == clean


def test_gunicorns_access_log_carries_no_number() -> None:
    from types import SimpleNamespace

    from gunicorn.config import Config

    cfg = Config()
    cfg.set("accesslog", "-")
    log = GunicornLogger(cfg)
    stream = io.StringIO()
    for handler in log.access_log.handlers:
        handler.stream = stream  # type: ignore[attr-defined]
    request = SimpleNamespace(
        headers=[],
        method="GET",
        path="/inbox",
        query="q=50937001234&phone=%2B243970001234",
        uri="/inbox?q=50937001234&phone=%2B243970001234",
        version=(1, 1),
    )
    response = SimpleNamespace(status="200 OK", headers=[], response_length=12, sent=12)
    environ = {
        "REMOTE_ADDR": "127.0.0.1",
        "REQUEST_METHOD": "GET",
        "RAW_URI": request.uri,
        "PATH_INFO": "/inbox",
        "QUERY_STRING": request.query,
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    import datetime

    log.access(response, request, environ, datetime.timedelta(milliseconds=3))
    line = stream.getvalue()
    assert "/inbox" in line
    assert "50937001234" not in line
    assert "243970001234" not in line
