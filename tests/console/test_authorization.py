"""Every console route against every role, at the HTTP level."""

from __future__ import annotations

import pytest
from flask import Flask

from mcof_comms.auth.permissions import CASE_WORKERS
from mcof_comms.models import Role
from tests.console.conftest import World
from tests.console.helpers import csrf, login

ALL = frozenset(Role)
A, C, S, P, R, V = (
    Role.ADMIN,
    Role.COORDINATOR,
    Role.SECTOR_FOCAL_POINT,
    Role.PROTECTION_FOCAL_POINT,
    Role.RESPONDER,
    Role.VIEWER,
)

# (method, path template, roles allowed); {health} {shelter} {sensitive} are case ids
ROUTES: list[tuple[str, str, frozenset[Role]]] = [
    ("GET", "/inbox", frozenset({A, C, S, P})),
    ("GET", "/inbox?review=1", frozenset({A, C, S, P})),
    ("GET", "/cases/{health}", frozenset({A, C, S})),
    ("GET", "/cases/{shelter}", frozenset({A, C})),
    ("GET", "/cases/{sensitive}", frozenset({A, P})),
    ("POST", "/cases/{health}/note", frozenset({A, C, S})),
    ("POST", "/cases/{shelter}/relabel", frozenset({A, C})),
    ("POST", "/cases/{sensitive}/reveal", frozenset({A, P})),
    ("POST", "/cases/{sensitive}/assign", frozenset({A, P})),
    ("POST", "/cases/{health}/status", frozenset({A, C, S})),
    ("POST", "/cases/{health}/reply", frozenset({A, C, S})),
    ("POST", "/cases/{health}/review", frozenset({A, C, S})),
    ("POST", "/inbox/bulk", frozenset({A, C, S, P})),
    ("GET", "/broadcasts", frozenset({A, R})),
    ("GET", "/broadcasts/new", frozenset({A, R})),
    ("GET", "/broadcasts/audience-count", frozenset({A, R})),
    ("POST", "/broadcasts/new", frozenset({A, R})),
    ("GET", "/dashboard", ALL),
    ("GET", "/exports/cases.csv", frozenset({A, C, S, P, V})),
    ("GET", "/exports/messages.xlsx", frozenset({A, C, S, P, V})),
    ("GET", "/simulator", frozenset({A, C})),
    ("GET", "/canned", frozenset({A, C})),
    ("POST", "/canned", frozenset({A, C})),
    ("GET", "/audit", frozenset({A})),
]

FORMS = {
    "/note": {"text": "checked"},
    "/relabel": {"sector": "shelter_nfi", "feedback_type": "complaint", "urgency": "urgent"},
    "/assign": {"assignee": ""},
    "/status": {"status": "in_progress"},
    "/reply": {"body": "Merci, nous regardons."},
    "/inbox/bulk": {"action": "assign", "assignee": ""},
    "/broadcasts/new": {"operation_id": "1", "base_language": "en", "text_en": "Hello"},
    "/canned": {"title": "Thanks", "language": "fr", "body": "Merci"},
}


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_every_route_answers_each_role_as_the_rules_say(
    app: Flask, world: World, role: Role
) -> None:
    client = app.test_client()
    assert login(client, f"{role.value}@example.org").status_code == 302
    token = csrf(client)
    ids = {"health": world.health, "shelter": world.shelter, "sensitive": world.sensitive}
    failures = []
    for method, template, allowed in ROUTES:
        path = template.format(**ids)
        if method == "GET":
            response = client.get(path)
        else:
            data = next((v for k, v in FORMS.items() if path.endswith(k)), {})
            data = {**data, "csrf_token": token}
            if path == "/broadcasts/new":
                data["operation_id"] = str(world.operation)
            response = client.post(path, data=data)
        expected_ok = role in allowed
        ok = response.status_code in (200, 302)
        # a role that works cases but may not open this one gets 404, as for a missing case
        refused = 404 if path.startswith("/cases/") and role in CASE_WORKERS else 403
        if expected_ok != ok or (not expected_ok and response.status_code != refused):
            failures.append(f"{method} {path}: {response.status_code}")
    assert not failures, failures


def test_anonymous_is_sent_to_sign_in_everywhere(app: Flask, world: World) -> None:
    client = app.test_client()
    ids = {"health": world.health, "shelter": world.shelter, "sensitive": world.sensitive}
    for method, template, _allowed in ROUTES:
        path = template.format(**ids)
        response = client.get(path) if method == "GET" else client.post(path, data={})
        if method == "POST" and response.status_code == 400:
            continue  # CSRF refuses the post before sign-in is even checked
        assert response.status_code == 302, path
        assert "/login" in response.headers["Location"], path
