"""CSV and XLSX exports of cases and messages: current filters, pseudonymized contacts, HXL."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select

from mcof_comms.console.services import InboxFilters, inbox_query, pseudonym
from mcof_comms.extensions import db
from mcof_comms.models import Case, Message, Operation, Role, User

MAX_ROWS = 200_000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    header: str
    hxl: str


CASE_COLUMNS = (
    Column("case", "#meta+id"),
    Column("operation", "#crisis+name"),
    Column("contact", "#respondee+id"),
    Column("sector", "#sector+code"),
    Column("feedback_type", "#x_feedback+type"),
    Column("urgency", "#severity"),
    Column("status", "#status"),
    Column("language", "#meta+lang"),
    Column("created_at", "#date+created"),
    Column("first_response_at", "#date+responded"),
    Column("closed_at", "#date+closed"),
    Column("due_at", "#date+due"),
    Column("referral_partner", "#org+partner"),
)
MESSAGE_COLUMNS = (
    Column("message", "#meta+id"),
    Column("case", "#meta+case"),
    Column("contact", "#respondee+id"),
    Column("direction", "#meta+direction"),
    Column("channel", "#channel"),
    Column("created_at", "#date"),
    Column("language", "#meta+lang"),
    Column("sector", "#sector+code"),
    Column("feedback_type", "#x_feedback+type"),
    Column("status", "#status"),
    Column("body", "#description"),
)


def export_scope(user: User) -> User:
    """Viewers export what coordinators see (non-sensitive), never bodies; see ``rows``."""
    if user.role is Role.VIEWER:
        return User(id=user.id, email=user.email, role=Role.COORDINATOR, sectors=[])
    return user


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _v(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


def case_rows(user: User, filters: InboxFilters) -> Iterator[list[str]]:
    operations = {o.id: o.name for o in db.session.scalars(select(Operation))}  # names only
    query = inbox_query(export_scope(user), filters).limit(MAX_ROWS)
    for case in db.session.scalars(query.execution_options(yield_per=1000)):
        yield [
            case.reference,
            operations.get(case.operation_id, ""),
            pseudonym(case.contact_id),
            case.sector or "",
            _v(case.feedback_type),
            _v(case.urgency),
            _v(case.status),
            case.language or "",
            _iso(case.created_at),
            _iso(case.first_response_at),
            _iso(case.closed_at),
            _iso(case.due_at),
            case.referral_partner or "",
        ]


def sensitive_case_ids(user: User, filters: InboxFilters) -> list[int]:
    """The sensitive cases an export of ``filters`` holds (its case rows, or the cases of its
    message rows), for the audit log."""
    query = (
        inbox_query(export_scope(user), filters)
        .where(Case.sensitive_category.is_not(None))
        .with_only_columns(Case.id)
        .order_by(None)
        .limit(MAX_ROWS)
    )
    return list(db.session.scalars(query))


def message_rows(user: User, filters: InboxFilters) -> Iterator[list[str]]:
    case_ids = inbox_query(export_scope(user), filters).with_only_columns(Case.id).order_by(None)
    query = (
        select(Message, Case.reference, Case.sector, Case.feedback_type)
        .join(Case, Case.id == Message.case_id)
        .where(Message.case_id.in_(case_ids))
        .order_by(Message.id)
        .limit(MAX_ROWS)
    )
    with_bodies = user.role is not Role.VIEWER
    for message, reference, sector, feedback_type in db.session.execute(
        query.execution_options(yield_per=1000)
    ):
        yield [
            str(message.id),
            reference,
            pseudonym(message.contact_id),
            _v(message.direction),
            _v(message.channel),
            _iso(message.created_at),
            message.language or "",
            sector or "",
            _v(feedback_type),
            _v(message.status),
            message.body if with_bodies else "",
        ]


#: C0 controls but tab, line feed and carriage return, then DEL and the C1 controls: openpyxl
#: refuses most of them (IllegalCharacterError), and spreadsheets show none of them.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def escape_control(value: str) -> str:
    """Write each control character as ``\\xNN``: one odd message must not stop an export."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)


def safe_cell(value: str) -> str:
    """Neutralise spreadsheet formulas (a body starting with ``=`` stays text when opened) and
    escape control characters."""
    value = escape_control(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def to_csv(columns: Iterable[Column], rows: Iterable[list[str]]) -> Iterator[str]:
    cols = list(columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.header for c in cols])
    writer.writerow([c.hxl for c in cols])
    yield "\ufeff" + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([safe_cell(v) for v in row])
        yield buffer.getvalue()


def to_xlsx(columns: Iterable[Column], rows: Iterable[list[str]], title: str) -> bytes:
    cols = list(columns)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.append([c.header for c in cols])
    sheet.append([c.hxl for c in cols])
    for row in rows:
        sheet.append([safe_cell(v) for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
