"""Odd but possible input in the console: a clear 4xx or handled, never a 500; exports write
every stored text."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from openpyxl import load_workbook

from mcof_comms.extensions import db
from mcof_comms.models import Operation
from tests.console.conftest import World
from tests.console.helpers import login, make_case

CONTROLS = "bell\x07 escape\x1b[31m vertical\x0b form\x0c del\x7f c1\x85 end"


def test_exports_write_a_message_holding_control_characters(app: Flask, world: World) -> None:
    with app.app_context():
        make_case(db.session.get_one(Operation, world.operation), CONTROLS)
    for role in ("admin", "coordinator"):
        client = app.test_client()
        login(client, f"{role}@example.org")
        xlsx = client.get("/exports/messages.xlsx")
        assert xlsx.status_code == 200
        cells = [v for row in load_workbook(io.BytesIO(xlsx.data)).active.values for v in row]
        expected = r"bell\x07 escape\x1b[31m vertical\x0b form\x0c del\x7f c1\x85 end"
        assert expected in cells
        text = client.get("/exports/messages.csv").get_data(as_text=True).lstrip("\ufeff")
        assert expected in [v for row in csv.reader(io.StringIO(text)) for v in row]
        assert client.get("/exports/cases.xlsx").status_code == 200


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/inbox?operation_id=9999999999999", 400),
        ("/inbox?operation_id=%D9%A3", 400),  # Arabic-Indic three: a digit to str.isdigit()
        ("/inbox?operation_id=%C2%B2", 400),  # superscript two
        ("/inbox?operation_id=" + "9" * 5000, 400),  # beyond what int() converts
        ("/inbox?q=%00", 400),
        ("/inbox?sector=%00", 400),
        ("/inbox?view=messages&q=a%00b", 400),
        ("/inbox?view=messages&cursor=999999999999", 200),
        ("/inbox?view=messages&cursor=%D9%A3", 200),
        ("/inbox?cursor=MXwyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwfDk5OTk5OTk5OTk5OQ", 200),
        ("/inbox?date_from=9999-12-31&date_to=9999-12-31", 200),
        ("/inbox?assignee=99999999999", 200),
        ("/audit?before=99999999999", 200),
        ("/dashboard?days=99999999999999999999", 200),
        ("/cases/99999999999", 404),
        ("/cases/%D9%A3", 404),
        ("/broadcasts/99999999999", 404),
        ("/exports/messages.csv?operation_id=99999999999", 400),
    ],
)
def test_odd_query_strings_are_a_clear_answer(app: Flask, world: World, path, status) -> None:
    client = app.test_client()
    login(client, "admin@example.org")
    assert client.get(path).status_code == status
