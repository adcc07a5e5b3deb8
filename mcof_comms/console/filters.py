"""Jinja filters for the console: masked numbers, SLA clocks, localized dates and labels."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask_babel import format_datetime, format_timedelta
from flask_babel import gettext as _

from mcof_comms.auth.permissions import mask_address
from mcof_comms.console.forms import FEEDBACK_TYPE_LABELS, STATUS_LABELS, URGENCY_LABELS
from mcof_comms.db import utcnow


def sla_text(due_at: datetime | None, is_open: bool = True) -> str:
    if due_at is None or not is_open:
        return ""
    delta = due_at - utcnow()
    if delta.total_seconds() < 0:
        return _("overdue by %(time)s", time=format_timedelta(-delta, threshold=1.0))
    return _("due in %(time)s", time=format_timedelta(delta, threshold=1.0))


def age_text(when: datetime | None) -> str:
    if when is None:
        return ""
    return format_timedelta(utcnow() - when, threshold=1.0)


def register(app: Flask) -> None:
    app.jinja_env.filters["masked"] = mask_address
    app.jinja_env.filters["sla"] = sla_text
    app.jinja_env.filters["age"] = age_text
    app.jinja_env.filters["when"] = lambda d: format_datetime(d, "short") if d else ""
    app.jinja_env.filters["type_label"] = lambda v: FEEDBACK_TYPE_LABELS.get(v, v) if v else ""
    app.jinja_env.filters["urgency_label"] = lambda v: URGENCY_LABELS.get(v, v) if v else ""
    app.jinja_env.filters["status_label"] = lambda v: STATUS_LABELS.get(v, v) if v else ""
