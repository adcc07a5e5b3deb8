"""Message bodies are untrusted: HTML and script show as text everywhere."""

from __future__ import annotations

import csv
import io

from flask import Flask
from openpyxl import load_workbook

from mcof_comms.extensions import db
from mcof_comms.models import FeedbackType, Operation
from tests.console.conftest import World
from tests.console.helpers import login, make_case

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>=HYPERLINK("http://e")'


def _evil_case(app: Flask, world: World, **kw: object) -> int:
    with app.app_context():
        op = db.session.get_one(Operation, world.operation)
        return make_case(op, EVIL, **kw).id  # type: ignore[arg-type]


def _assert_escaped(page: str) -> None:
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert" in page


def test_inbox_and_case_show_html_as_text(app: Flask, world: World) -> None:
    case_id = _evil_case(app, world)
    client = app.test_client()
    login(client, "coordinator@example.org")
    _assert_escaped(client.get("/inbox").get_data(as_text=True))
    _assert_escaped(client.get("/inbox?view=messages").get_data(as_text=True))
    _assert_escaped(client.get(f"/cases/{case_id}").get_data(as_text=True))


def test_dashboard_rumour_cluster_shows_html_as_text(app: Flask, world: World) -> None:
    _evil_case(app, world, feedback_type=FeedbackType.RUMOUR)
    client = app.test_client()
    login(client, "coordinator@example.org")
    page = client.get("/dashboard").get_data(as_text=True)
    _assert_escaped(page)
    assert "<svg" in page  # charts are inline SVG, rendered on the server
    viewer = app.test_client()
    login(viewer, "viewer@example.org")
    seen = viewer.get("/dashboard").get_data(as_text=True)
    assert "&lt;script&gt;" not in seen  # a viewer gets counts and keywords, not people's words


def test_exports_keep_the_text_and_defuse_formulas(app: Flask, world: World) -> None:
    _evil_case(app, world)
    client = app.test_client()
    login(client, "coordinator@example.org")
    response = client.get("/exports/messages.csv")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[1][0].startswith("#")  # the HXL hashtag row
    bodies = [r[rows[0].index("body")] for r in rows[2:]]
    assert EVIL in bodies  # text, exactly; a spreadsheet shows it, nothing runs it
    xlsx = client.get("/exports/messages.xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[1][0] == "#meta+id"
    assert EVIL in [v for row in values[2:] for v in row]


def test_formula_at_the_start_of_a_body_is_neutralised(app: Flask, world: World) -> None:
    with app.app_context():
        op = db.session.get_one(Operation, world.operation)
        make_case(op, "=cmd|' /C calc'!A0")
    client = app.test_client()
    login(client, "coordinator@example.org")
    text = client.get("/exports/messages.csv").get_data(as_text=True)
    assert "'=cmd|" in text


def test_exports_pseudonymize_contacts_and_viewers_get_no_bodies(app: Flask, world: World) -> None:
    client = app.test_client()
    login(client, "viewer@example.org")
    rows = list(csv.reader(io.StringIO(client.get("/exports/messages.csv").get_data(as_text=True))))
    header = [h.lstrip("\ufeff") for h in rows[0]]
    contacts = {r[header.index("contact")] for r in rows[2:]}
    assert contacts
    assert all(c.startswith("c-") for c in contacts)
    assert all(r[header.index("body")] == "" for r in rows[2:])
    assert len(rows) - 2 == 2  # the two non-sensitive cases' messages, not the sensitive one


def test_sensitive_counts_only_for_protection_roles(app: Flask, world: World) -> None:
    viewer = app.test_client()
    login(viewer, "viewer@example.org")
    assert "fraud" not in viewer.get("/dashboard").get_data(as_text=True)
    protection = app.test_client()
    login(protection, "protection_focal_point@example.org")
    page = protection.get("/dashboard").get_data(as_text=True)
    assert "fraud: 1" in page
    assert "money for the card" not in page  # counts, never bodies


def test_export_respects_the_inbox_filters(app: Flask, world: World) -> None:
    client = app.test_client()
    login(client, "coordinator@example.org")
    rows = list(
        csv.reader(
            io.StringIO(client.get("/exports/cases.csv?sector=health").get_data(as_text=True))
        )
    )
    assert {r[3] for r in rows[2:]} == {"health"}
