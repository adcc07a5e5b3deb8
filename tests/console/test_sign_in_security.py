"""Sign-in that cannot be used to lock staff out or to tell emails apart, a second factor for
admins and protection focal points, and sessions the server can end (issue 11, items 6-7)."""

from __future__ import annotations

import statistics
import time

import pyotp
import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from mcof_comms.auth import sessions, throttle
from mcof_comms.extensions import db
from mcof_comms.models import ApiToken, AuditEntry, Role, User
from tests.console.conftest import World
from tests.console.helpers import PASSWORD, TOTP_SECRET, csrf, csrf_from, login, next_totp_code

COORDINATOR = "coordinator@example.org"
ADMIN = "admin@example.org"


def client_at(app: Flask, address: str) -> FlaskClient:
    """A browser at ``address`` (what ``request.remote_addr`` says behind ProxyFix)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def flash_of(response: object) -> str:
    html = response.get_data(as_text=True)  # type: ignore[attr-defined]
    start = html.find('class="flash')
    return html[start : html.find("</p>", start)] if start >= 0 else ""


@pytest.fixture
def argon2_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count argon2 verifications, the costly part of an attempt."""
    calls: list[str] = []
    verify = PasswordHasher.verify

    def counting(self: PasswordHasher, hash: str, password: str) -> bool:
        calls.append(hash[:20])
        return verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    return calls


def user(app: Flask, email: str) -> User:
    with app.app_context():
        found = db.session.scalars(select(User).where(User.email == email)).one()
        db.session.expunge(found)
        return found


# --- item 6: throttling without a lock, one answer for every email ---------------------------


def test_failures_elsewhere_never_lock_the_user_out(app: Flask, world: World) -> None:
    attacker = client_at(app, "203.0.113.7")
    for _ in range(throttle.ACCOUNT_IP_FREE + 3):
        login(attacker, COORDINATOR, "wrong-password")
    response = login(client_at(app, "198.51.100.20"), COORDINATOR)
    assert response.status_code == 302  # the real user, from their own address
    assert response.headers["Location"].endswith("/inbox")


def test_guessing_from_one_address_backs_off_without_hashing(
    app: Flask, world: World, argon2_calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    attacker = client_at(app, "203.0.113.7")
    for _ in range(throttle.ACCOUNT_IP_FREE):
        assert login(attacker, COORDINATOR, "wrong-password").status_code == 401
    argon2_calls.clear()
    refused = login(attacker, COORDINATOR)  # even the right password waits
    assert refused.status_code == 429
    assert "Too many sign-in attempts" in flash_of(refused)
    assert argon2_calls == []  # a refused attempt costs no 64 MiB hash

    # a back-off, not a lock: after the wait the address may try again, and each further
    # failure doubles the wait
    start = time.time()
    monkeypatch.setattr(throttle.time, "time", lambda: start + 2)
    assert login(attacker, COORDINATOR, "wrong-password").status_code == 401
    assert login(attacker, COORDINATOR).status_code == 429
    monkeypatch.setattr(throttle.time, "time", lambda: start + 5)
    assert login(attacker, COORDINATOR).status_code == 302


def test_password_spraying_from_one_address_is_slowed(app: Flask, world: World) -> None:
    sprayer = client_at(app, "203.0.113.9")
    for n in range(throttle.IP_FREE):  # one guess per account: no per-account counter trips
        assert login(sprayer, f"person{n}@example.org", "Winter2026!").status_code == 401
    assert login(sprayer, COORDINATOR, "Winter2026!").status_code == 429
    assert login(client_at(app, "198.51.100.20"), COORDINATOR).status_code == 302


def test_many_addresses_only_slow_an_account_down_and_spare_known_addresses(
    app: Flask, world: World
) -> None:
    home = client_at(app, "198.51.100.20")
    assert login(home, COORDINATOR).status_code == 302  # signed in here before: known
    for n in range(throttle.ACCOUNT_FREE):
        login(client_at(app, f"203.0.113.{n + 1}"), COORDINATOR, "wrong-password")
    assert login(client_at(app, "192.0.2.50"), COORDINATOR).status_code == 429
    with app.test_request_context():
        wait = throttle.seconds_to_wait(COORDINATOR, "192.0.2.50")
    assert 0 < wait <= throttle.ACCOUNT_MAX_DELAY  # a minute at most, never a lock
    assert login(client_at(app, "198.51.100.20"), COORDINATOR).status_code == 302


def test_existing_and_unknown_emails_get_the_same_answers(app: Flask, world: World) -> None:
    answers = {}
    for n, email in enumerate([COORDINATOR, "nobody@example.org"]):
        client = client_at(app, f"203.0.113.{100 + n}")
        answers[email] = [
            (r.status_code, flash_of(r))  # type: ignore[attr-defined]
            for r in (login(client, email, "wrong-password") for _ in range(7))
        ]
    assert answers[COORDINATOR] == answers["nobody@example.org"]
    assert [code for code, _ in answers[COORDINATOR]] == [401] * 5 + [429] * 2


def test_every_checked_attempt_costs_one_argon2_check(
    app: Flask, world: World, argon2_calls: list[str]
) -> None:
    with app.app_context():
        db.session.scalars(
            select(User).where(User.email == "viewer@example.org")
        ).one().active = False
        db.session.commit()
    cases = [
        (COORDINATOR, "wrong-password"),  # exists, wrong password
        ("nobody@example.org", "wrong-password"),  # unknown email
        ("viewer@example.org", PASSWORD),  # deactivated, right password
    ]
    for n, (email, password) in enumerate(cases):
        argon2_calls.clear()
        response = login(client_at(app, f"203.0.113.{n + 1}"), email, password)
        assert response.status_code == 401, email
        assert flash_of(response).endswith("Wrong email or password."), email
        assert len(argon2_calls) == 1, email


def test_unknown_and_existing_emails_take_comparable_time(app: Flask, world: World) -> None:
    from mcof_comms.auth.users import create_user

    with app.app_context():
        create_user("real@example.org", "a-real-long-password", Role.COORDINATOR)  # full cost
        db.session.commit()

    def median(email: str, address: str) -> float:
        client = client_at(app, address)
        times = []
        for _ in range(3):
            token = csrf_from(client.get("/login").get_data(as_text=True))
            start = time.perf_counter()
            client.post("/login", data={"email": email, "password": "nope", "csrf_token": token})
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    median("warm@example.org", "192.0.2.1")  # the dummy hash is made once per process
    existing, unknown = (
        median("real@example.org", "192.0.2.2"),
        median("x@example.org", "192.0.2.3"),
    )
    assert 1 / 3 < existing / unknown < 3, (existing, unknown)


# --- item 6: the second factor -----------------------------------------------------------------


def test_admin_without_a_second_factor_must_enrol_first(app: Flask, world: World) -> None:
    with app.app_context():
        admin = db.session.scalars(select(User).where(User.email == ADMIN)).one()
        admin.totp_secret = admin.totp_enabled_at = None
        db.session.commit()
    client = app.test_client()
    response = login(client, ADMIN)
    assert response.headers["Location"].endswith("/login/enrol")
    assert client.get("/inbox").status_code == 302  # the password alone opens nothing

    page = client.get("/login/enrol")
    html = page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    stored = user(app, ADMIN).totp_secret
    assert stored is not None
    assert " ".join(stored[i : i + 4] for i in range(0, len(stored), 4)) in html
    assert f"otpauth://totp/mcof-comms:admin%40example.org?secret={stored}" in html
    assert "<img" not in html  # no QR image fetched from anywhere

    token = csrf_from(html)
    wrong = client.post("/login/enrol", data={"code": "000000", "csrf_token": token})
    assert wrong.status_code == 401
    code = pyotp.TOTP(stored).now()
    done = client.post("/login/enrol", data={"code": code, "csrf_token": token})
    assert done.status_code == 302
    assert done.headers["Location"].endswith("/inbox")
    assert client.get("/inbox").status_code == 200
    assert user(app, ADMIN).totp_enabled_at is not None


def test_protection_focal_point_needs_a_current_unused_code(app: Flask, world: World) -> None:
    email = "protection_focal_point@example.org"
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    step = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert step.headers["Location"].endswith("/login/code")
    assert client.get("/inbox").status_code == 302

    token = csrf_from(client.get("/login/code").get_data(as_text=True))
    old = pyotp.TOTP(TOTP_SECRET).at(time.time() - 300)
    assert client.post("/login/code", data={"code": old, "csrf_token": token}).status_code == 401
    code = next_totp_code(app, email)
    assert client.post("/login/code", data={"code": code, "csrf_token": token}).status_code == 302
    assert client.get("/inbox").status_code == 200

    # the same code again, from another browser that has the password: refused
    other = app.test_client()
    token = csrf_from(other.get("/login").get_data(as_text=True))
    other.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    token = csrf_from(other.get("/login/code").get_data(as_text=True))
    assert other.post("/login/code", data={"code": code, "csrf_token": token}).status_code == 401


def test_wrong_codes_send_back_to_the_password(app: Flask, world: World) -> None:
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": ADMIN, "password": PASSWORD, "csrf_token": token})
    token = csrf_from(client.get("/login/code").get_data(as_text=True))
    for _ in range(4):
        wrong = client.post("/login/code", data={"code": "123456", "csrf_token": token})
        assert wrong.status_code == 401
    last = client.post("/login/code", data={"code": "123456", "csrf_token": token})
    assert last.status_code == 302
    assert last.headers["Location"].endswith("/login")
    assert client.get("/login/code").headers["Location"].endswith("/login")


def test_cli_resets_a_lost_second_factor(app: Flask, world: World) -> None:
    result = app.test_cli_runner().invoke(args=["users", "reset-2fa", "--email", ADMIN])
    assert result.exit_code == 0, result.output
    assert user(app, ADMIN).totp_secret is None
    assert login(app.test_client(), ADMIN).headers["Location"].endswith("/login/enrol")


# --- item 7: sessions the server can end ------------------------------------------------------


def copy_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie."""
    thief = app.test_client()
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief.set_cookie("session", cookie.value)
    return thief


def test_a_copied_cookie_is_dead_after_sign_out(app: Flask, world: World) -> None:
    client = app.test_client()
    login(client, COORDINATOR)
    thief = copy_of(app, client)
    assert thief.get("/inbox").status_code == 200
    client.post("/logout", data={"csrf_token": csrf(client)})
    assert thief.get("/inbox").status_code == 302
    assert client.get("/inbox").status_code == 302


def test_sessions_end_after_idle_time_and_after_the_maximum(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = app.extensions["mcof_settings"]
    assert app.permanent_session_lifetime.total_seconds() == settings.session_max_hours * 3600
    start = time.time()
    client = app.test_client()
    login(client, COORDINATOR)
    now = start
    # active every 20 minutes: the idle limit (30) never trips, the 12-hour limit does
    while now - start < settings.session_max_hours * 3600 - 2400:
        now += 20 * 60
        monkeypatch.setattr(sessions.time, "time", lambda t=now: t)
        assert client.get("/inbox").status_code == 200, (now - start) / 3600
    monkeypatch.setattr(
        sessions.time, "time", lambda: start + settings.session_max_hours * 3600 + 1
    )
    assert client.get("/inbox").status_code == 302

    monkeypatch.setattr(sessions.time, "time", lambda: start)
    idle = app.test_client()
    login(idle, COORDINATOR)
    monkeypatch.setattr(
        sessions.time, "time", lambda: start + settings.session_idle_minutes * 60 + 61
    )
    assert idle.get("/inbox").status_code == 302


def test_sign_out_everywhere_and_password_change_end_other_sessions(
    app: Flask, world: World
) -> None:
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, COORDINATOR)
    login(phone, COORDINATOR)
    token = csrf(laptop, "/account")
    changed = laptop.post(
        "/account",
        data={"current": PASSWORD, "new": "a-brand-new-password", "csrf_token": token},
    )
    assert changed.status_code == 302
    assert laptop.get("/inbox").status_code == 200  # this session goes on
    assert phone.get("/inbox").status_code == 302  # the other one ended
    assert login(phone, COORDINATOR).status_code == 401  # old password
    assert login(phone, COORDINATOR, "a-brand-new-password").status_code == 302

    laptop.post("/account/sign-out-everywhere", data={"csrf_token": csrf(laptop, "/account")})
    assert laptop.get("/inbox").status_code == 302
    assert phone.get("/inbox").status_code == 302


def test_admin_deactivates_a_user_and_revokes_tokens(app: Flask, world: World) -> None:
    runner = app.test_cli_runner()
    secret = runner.invoke(args=["tokens", "create", "--email", COORDINATOR]).output.split()[-1]
    coordinator = app.test_client()
    login(coordinator, COORDINATOR)
    bearer = {"Authorization": f"Bearer {secret}"}
    assert app.test_client().get("/api/v1/messages", headers=bearer).status_code == 200

    admin = app.test_client()
    assert login(admin, ADMIN).status_code == 302
    page = admin.get("/admin/access")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert COORDINATOR in html
    assert secret not in html
    target = world.users[Role.COORDINATOR]
    response = admin.post(
        f"/admin/access/users/{target}/deactivate", data={"csrf_token": csrf_from(html)}
    )
    assert response.status_code == 302
    assert coordinator.get("/inbox").status_code == 302
    assert app.test_client().get("/api/v1/messages", headers=bearer).status_code == 401
    assert login(app.test_client(), COORDINATOR).status_code == 401
    with app.app_context():
        assert db.session.scalars(select(ApiToken)).one().revoked_at is not None
        actions = set(db.session.scalars(select(AuditEntry.action)))
    assert "user.deactivate" in actions

    assert coordinator.get("/admin/access").status_code == 302
    login(viewer := app.test_client(), "viewer@example.org")
    assert viewer.get("/admin/access").status_code == 403


def test_admin_resets_a_password_and_revokes_a_token(app: Flask, world: World) -> None:
    runner = app.test_cli_runner()
    secret = runner.invoke(args=["tokens", "create", "--email", COORDINATOR]).output.split()[-1]
    coordinator = app.test_client()
    login(coordinator, COORDINATOR)
    admin = app.test_client()
    login(admin, ADMIN)
    token = csrf(admin, "/admin/access")
    target = world.users[Role.COORDINATOR]
    short = admin.post(
        f"/admin/access/users/{target}/password", data={"password": "short", "csrf_token": token}
    )
    assert short.status_code == 302
    assert login(app.test_client(), COORDINATOR).status_code == 302  # unchanged
    admin.post(
        f"/admin/access/users/{target}/password",
        data={"password": "reset-by-the-admin", "csrf_token": token},
    )
    assert coordinator.get("/inbox").status_code == 302
    assert login(app.test_client(), COORDINATOR, "reset-by-the-admin").status_code == 302

    with app.app_context():
        token_id = db.session.scalars(select(ApiToken.id)).one()
    admin.post(f"/admin/access/tokens/{token_id}/revoke", data={"csrf_token": token})
    bearer = {"Authorization": f"Bearer {secret}"}
    assert app.test_client().get("/api/v1/messages", headers=bearer).status_code == 401
