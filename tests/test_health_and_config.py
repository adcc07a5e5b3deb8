"""Health endpoint and settings."""

from __future__ import annotations

import pytest

from config import ConfigError, Settings


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"
    assert response.get_json()["queue"] == "ok"


def test_healthz_503_when_queue_down(make_app):
    app = make_app(redis_url="redis://127.0.0.1:1/0")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["queue"] == "unavailable"
    assert response.get_json()["database"] == "ok"


def test_healthz_503_when_database_down(make_app):
    app = make_app(database_url="postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unavailable"


def test_production_names_every_missing_secret():
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"MCOF_ENV": "production", "DATABASE_URL": "postgresql://x/y"})
    message = str(info.value)
    for name in [
        "REDIS_URL",
        "SECRET_KEY",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_ACCOUNT_SID",
        "PUBLIC_BASE_URL",
        "TWILIO_SMS_FROM",
    ]:
        assert name in message
    assert "DATABASE_URL" not in message


def test_development_defaults_to_embedded_sqlite():
    settings = Settings.from_env({"SECRET_KEY": "k"})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("instance/mcof.db")
    assert settings.embedded


def test_postgres_urls_use_psycopg3():
    settings = Settings.from_env({"SECRET_KEY": "k", "DATABASE_URL": "postgres://u@h/db"})
    assert settings.database_url == "postgresql+psycopg://u@h/db"


def test_bad_whatsapp_sender_is_rejected():
    with pytest.raises(ConfigError, match="TWILIO_WHATSAPP_FROM"):
        Settings.from_env({"SECRET_KEY": "k", "TWILIO_WHATSAPP_FROM": "+14155238886"})
