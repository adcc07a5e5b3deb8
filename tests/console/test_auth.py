"""Sign-in, CSRF, secure cookies and the remembered UI language.

Throttling, the second factor and revocable sessions are in test_sign_in_security.py.
"""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from mcof_comms.extensions import db
from mcof_comms.models import Role, User
from tests.console.conftest import World
from tests.console.helpers import csrf, login


def test_anonymous_visitor_is_sent_to_sign_in(client: FlaskClient, world: World) -> None:
    response = client.get("/inbox")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_sign_in_lands_on_the_inbox_for_a_coordinator(client: FlaskClient, world: World) -> None:
    response = login(client, "coordinator@example.org")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/inbox")
    assert client.get("/inbox").status_code == 200


def test_wrong_password_is_refused(client: FlaskClient, world: World) -> None:
    response = login(client, "coordinator@example.org", "wrong-password")
    assert response.status_code == 401
    assert client.get("/inbox").status_code == 302


def test_post_without_csrf_token_is_rejected(client: FlaskClient, world: World) -> None:
    response = client.post(
        "/login", data={"email": "coordinator@example.org", "password": "correct-horse-battery"}
    )
    assert response.status_code in (400, 401)
    assert client.get("/inbox").status_code == 302
    login(client, "coordinator@example.org")
    response = client.post(f"/cases/{world.health}/note", data={"text": "no token"})
    assert response.status_code == 400


def test_session_cookie_is_httponly_and_samesite(client: FlaskClient, world: World) -> None:
    response = login(client, "coordinator@example.org")
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_secure_cookies_in_production(make_app, world: World) -> None:
    app = make_app(session_cookie_secure=True)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/%5Cevil.example/x", "/\\evil.example"]
)
def test_open_redirect_after_sign_in_is_ignored(
    client: FlaskClient, world: World, target: str
) -> None:
    page = client.get("/login")
    from tests.console.helpers import csrf_from

    token = csrf_from(page.get_data(as_text=True))
    response = client.post(
        f"/login?next={target}",
        data={
            "email": "coordinator@example.org",
            "password": "correct-horse-battery",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]


def test_language_choice_is_remembered_and_sets_rtl(app, client: FlaskClient, world: World) -> None:
    login(client, "coordinator@example.org")
    token = csrf(client)
    response = client.post("/locale", data={"locale": "ar", "next": "/inbox", "csrf_token": token})
    assert response.status_code == 302
    page = client.get("/inbox").get_data(as_text=True)
    assert 'lang="ar" dir="rtl"' in page
    with app.app_context():
        user = db.session.query(User).filter_by(role=Role.COORDINATOR).one()
        assert user.locale == "ar"
    # a new session of the same user gets Arabic back
    other = app.test_client()
    login(other, "coordinator@example.org")
    assert 'dir="rtl"' in other.get("/inbox").get_data(as_text=True)


def test_console_pages_send_a_strict_content_security_policy(
    client: FlaskClient, world: World
) -> None:
    login(client, "coordinator@example.org")
    policy = client.get("/inbox").headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
