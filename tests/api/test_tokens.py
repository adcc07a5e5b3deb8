"""API tokens expire, may be narrower than their user, read-only, listed and revoked
(issue 11, item 7)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from mcof_comms.auth.tokens import TokenError, create_token
from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import ApiToken, Role, User
from tests.api.test_api import auth, cli_token


def tokens_cli(app, *args: str):
    return app.test_cli_runner().invoke(args=["tokens", *args])


def test_tokens_expire(app, client):
    token = cli_token(app, "coordinator")
    assert client.get("/api/v1/messages", headers=auth(token)).status_code == 200
    with app.app_context():
        row = db.session.scalars(select(ApiToken)).one()
        assert timedelta(days=89) < row.expires_at - utcnow() <= timedelta(days=90)
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert client.get("/api/v1/messages", headers=auth(token)).status_code == 401


def test_a_token_may_act_as_a_narrower_role(app, client):
    cli_token(app, "admin")
    created = tokens_cli(app, "create", "--email", "admin@example.org", "--role", "coordinator")
    assert created.exit_code == 0, created.output
    narrow = created.output.split()[-1]
    assert client.get("/api/v1/messages", headers=auth(narrow)).status_code == 200
    # acting as a coordinator: the admin-only sight of untriaged messages is gone
    from tests.factories import make_inbound

    with app.app_context():
        waiting = make_inbound("Where do I register?", sender="+50937001234").id
    full = cli_token(app, "admin", "other-admin@example.org")
    assert client.get(f"/api/v1/messages/{waiting}", headers=auth(full)).status_code == 200
    assert client.get(f"/api/v1/messages/{waiting}", headers=auth(narrow)).status_code == 404

    viewer = tokens_cli(app, "create", "--email", "admin@example.org", "--role", "viewer")
    token = viewer.output.split()[-1]
    assert client.get("/api/v1/messages", headers=auth(token)).status_code == 403


def test_a_token_is_never_wider_than_its_user(app):
    cli_token(app, "coordinator")
    refused = tokens_cli(app, "create", "--email", "coordinator@example.org", "--role", "admin")
    assert refused.exit_code != 0
    assert "cannot make a token acting as admin" in refused.output
    with app.app_context():
        user = db.session.scalars(select(User)).one()
        with pytest.raises(TokenError):
            create_token(user, role=Role.PROTECTION_FOCAL_POINT)
        with pytest.raises(TokenError):
            create_token(user, days=400)


def test_a_read_only_token_cannot_write(app, client):
    cli_token(app, "responder")
    created = tokens_cli(app, "create", "--email", "responder@example.org", "--read-only")
    token = created.output.split()[-1]
    response = client.post(
        "/api/v1/broadcasts",
        json={"operation": "default", "translations": {"en": "hello"}},
        headers=auth(token),
    )
    assert response.status_code == 403
    assert "only read" in str(response.get_json()["error"])


def test_tokens_are_listed_without_their_secret_and_revoked(app, client):
    token = cli_token(app, "coordinator")
    listed = tokens_cli(app, "list")
    assert listed.exit_code == 0, listed.output
    assert "coordinator@example.org" in listed.output
    assert "valid" in listed.output
    assert token not in listed.output
    token_id = listed.output.split()[0]
    revoked = tokens_cli(app, "revoke", "--id", token_id)
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/api/v1/messages", headers=auth(token)).status_code == 401
    assert "revoked" in tokens_cli(app, "list").output


def test_cli_deactivates_a_user_and_resets_a_password(app, client):
    token = cli_token(app, "coordinator")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "deactivate", "--email", "coordinator@example.org"])
    assert result.exit_code == 0, result.output
    assert client.get("/api/v1/messages", headers=auth(token)).status_code == 401
    result = runner.invoke(args=["users", "activate", "--email", "coordinator@example.org"])
    assert result.exit_code == 0, result.output
    assert client.get("/api/v1/messages", headers=auth(token)).status_code == 401  # stays revoked
    result = runner.invoke(
        args=["users", "reset-password", "--email", "coordinator@example.org"],
        input="another-long-password\nanother-long-password\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalars(select(User)).one()
        assert user.session_version == 3  # deactivation, then the reset
        assert user.password_changed_at is not None
    assert "coordinator@example.org" in runner.invoke(args=["users", "list"]).output
