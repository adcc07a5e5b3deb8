"""No phone number reaches the logs, even inside a database error's traceback."""

from __future__ import annotations

import io
import logging

import pytest
from sqlalchemy.exc import IntegrityError

from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.logs import configure_logging, redact
from mcof_comms.models import Channel, ContactChannel
from tests.factories import make_inbound

PHONE = "+243970001234"


@pytest.fixture
def log_output() -> io.StringIO:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    configure_logging()  # what every app and worker does at start
    yield stream
    root.removeHandler(handler)


def test_a_database_error_logged_with_its_traceback_keeps_no_number(app_ctx, log_output):
    contact = make_inbound(sender=PHONE).contact
    try:
        db.session.add(
            ContactChannel(
                contact_id=contact.id,
                channel=Channel.WHATSAPP,
                address=PHONE,  # already the SMS channel's address: unique
                first_seen_at=utcnow(),
            )
        )
        db.session.flush()
    except IntegrityError:
        logging.getLogger("mcof_comms.test").exception("could not add channel for %s", PHONE)
    db.session.rollback()
    text = log_output.getvalue()
    assert "could not add channel for [number]" in text
    assert "already exists" in text  # PostgreSQL's DETAIL line is kept ...
    assert "243970001234" not in text  # ... without the number in it
    assert "IntegrityError" in text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("to whatsapp:+243970001234 failed", "to [number] failed"),
        ("Key (address)=(+1 500-555-0006) exists", "Key (address)=([number]) exists"),
        ("message 1234567 of case T00042", "message 1234567 of case T00042"),  # ids stay
    ],
)
def test_redact(raw: str, clean: str) -> None:
    assert redact(raw) == clean


def test_a_malformed_log_call_does_not_raise_into_the_caller(log_output):
    logging.getLogger("mcof_comms.test").warning("sent %s of %s", 1)  # one argument short
    assert "sent %s of %s (unformattable arguments)" in log_output.getvalue()


def test_url_encoded_numbers_are_redacted_too() -> None:
    assert redact("To=whatsapp%3A%2B243970001234&From=%2b15005550006") == (
        "To=[number]&From=[number]"
    )
