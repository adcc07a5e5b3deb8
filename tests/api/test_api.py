"""The read API: tokens from the CLI, 401/403, filters, keyset pagination, masking."""

from __future__ import annotations

import pytest

from mcof_comms.extensions import db
from mcof_comms.maintenance import sweep
from mcof_comms.models import Channel
from tests.factories import make_inbound, make_outbound


def cli_token(app, role: str, email: str | None = None) -> str:
    runner = app.test_cli_runner()
    email = email or f"{role}@example.org"
    created = runner.invoke(
        args=["users", "create", "--email", email, "--password", "long-password", "--role", role]
        + (["--sectors", "health"] if role == "sector_focal_point" else [])
    )
    assert created.exit_code == 0, created.output
    result = runner.invoke(args=["tokens", "create", "--email", email])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_no_token_is_401_and_bad_token_is_401(app, client):
    assert client.get("/api/v1/messages").status_code == 401
    response = client.get("/api/v1/messages", headers=auth("mcof_nope"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("role", ["responder", "viewer"])
def test_roles_without_message_access_get_403(app, client, role):
    token = cli_token(app, role)
    assert client.get("/api/v1/messages", headers=auth(token)).status_code == 403


def test_message_json_and_masking(app, client, run_jobs):
    token = cli_token(app, "coordinator")
    admin = cli_token(app, "admin")
    with app.app_context():
        message = make_inbound("Where do I register?", sender="+50937001234")
        message_id, contact_id = message.id, message.contact_id

    # waiting for triage it could be an abuse report: only admins may read it yet
    assert client.get(f"/api/v1/messages/{message_id}", headers=auth(token)).status_code == 404
    waiting = client.get(f"/api/v1/messages/{message_id}", headers=auth(admin)).get_json()
    assert waiting["status"] == "received"
    with app.app_context():
        sweep()  # nothing queued it: the factory only persists, as the webhook does first
    run_jobs()

    body = client.get(f"/api/v1/messages/{message_id}", headers=auth(token)).get_json()
    assert body["direction"] == "in"
    assert body["channel"] == "sms"
    assert body["status"] == "processed"
    assert body["case_id"] is not None
    assert body["body"] == "Where do I register?"
    assert body["contact_id"] == contact_id
    assert body["external_id"].startswith("SM")
    assert body["created_at"].endswith("+00:00")
    assert body["from"] == "+509 •••• 34"

    contact = client.get(f"/api/v1/contacts/{contact_id}", headers=auth(token)).get_json()
    assert contact["phone"] == "+509 •••• 34"
    assert contact["opted_out"] == {"sms": False}
    assert contact["language"] == "en"
    # admins too: a full number only through the console's audited reveal
    full = client.get(f"/api/v1/contacts/{contact_id}", headers=auth(admin)).get_json()
    assert full["phone"] == "+509 •••• 34"


def test_filters_and_keyset_pagination(app, client):
    token = cli_token(app, "admin")
    with app.app_context():
        ids = [make_inbound(f"m{n}", sender="+50937001234").id for n in range(5)]
        whatsapp = make_inbound("wa", sender="whatsapp:+50937009876")
        make_outbound(whatsapp.contact_id, channel=Channel.WHATSAPP)
        db.session.commit()

    seen: list[int] = []
    cursor = None
    while True:
        url = "/api/v1/messages?channel=sms&direction=in&limit=2"
        if cursor:
            url += f"&cursor={cursor}"
        page = client.get(url, headers=auth(token)).get_json()
        seen += [m["id"] for m in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)

    out = client.get("/api/v1/messages?direction=out", headers=auth(token)).get_json()
    assert [m["channel"] for m in out["data"]] == ["whatsapp"]
    assert client.get("/api/v1/messages?status=bogus", headers=auth(token)).status_code == 400
    since = client.get(
        "/api/v1/messages?since=2000-01-01T00:00:00Z", headers=auth(token)
    ).get_json()
    assert len(since["data"]) == 7
    future = client.get(
        "/api/v1/messages?since=2999-01-01T00:00:00Z", headers=auth(token)
    ).get_json()
    assert future["data"] == []


def test_unknown_ids_are_404(app, client):
    token = cli_token(app, "admin")
    assert client.get("/api/v1/messages/999", headers=auth(token)).status_code == 404
    assert client.get("/api/v1/contacts/999", headers=auth(token)).status_code == 404


def test_users_create_rejects_bad_input(app):
    runner = app.test_cli_runner()
    short = runner.invoke(
        args=["users", "create", "--email", "a@b.org", "--password", "short", "--role", "admin"]
    )
    assert short.exit_code != 0
    assert "8 characters" in short.output
    no_sectors = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "s@b.org",
            "--password",
            "long-password",
            "--role",
            "sector_focal_point",
        ]
    )
    assert no_sectors.exit_code != 0
    assert "--sectors" in no_sectors.output
