"""Odd query strings and paths in the API: 400 or 404 with a reason, never a 500."""

from __future__ import annotations

import pytest

from tests.api.test_api import auth, cli_token


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/messages?cursor=999999999999", 400),
        ("/api/v1/messages?cursor=2147483647", 200),
        ("/api/v1/messages?contact=99999999999", 400),
        ("/api/v1/messages?contact=%C2%B2", 400),  # superscript two: str.isdigit() says yes
        ("/api/v1/messages?limit=%D9%A3", 400),  # Arabic-Indic three
        ("/api/v1/messages?limit=" + "9" * 5000, 400),
        ("/api/v1/messages?status=%00", 400),
        ("/api/v1/messages?since=2026-01-01T00:00:00%00Z", 400),
        ("/api/v1/cases?sector=%00", 400),
        ("/api/v1/cases?cursor=1.99999999999", 400),
        ("/api/v1/cases?cursor=%D9%A3.1", 400),
        ("/api/v1/cases?operation=99999999999", 400),
        ("/api/v1/messages/99999999999", 404),
        ("/api/v1/contacts/99999999999", 404),
        ("/api/v1/cases/99999999999", 404),
        ("/api/v1/messages/%D9%A3", 404),
    ],
)
def test_odd_queries_are_a_clear_answer(app, client, path, status):
    token = cli_token(app, "admin")
    response = client.get(path, headers=auth(token))
    assert response.status_code == status
    if status == 400:
        assert response.get_json()["error"]
