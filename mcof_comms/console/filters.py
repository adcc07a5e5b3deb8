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


def explain(value: object) -> list[str]:
    """Lines a person can read from a triage record: ``slug 0.84 (source; kw, kw)``."""
    if isinstance(value, dict):
        head = [
            str(value[k])
            for k in ("slug", "value", "code", "category")
            if k in value and value[k] is not None
        ]
        conf = value.get("confidence")
        if isinstance(conf, int | float):
            head.append(f"{conf:.2f}")
        rest = [
            f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in value.items()
            if k not in ("slug", "value", "code", "category", "confidence")
            and v not in (None, [], "")
        ]
        line = " ".join(head)
        return [f"{line} ({'; '.join(rest)})" if line and rest else line or "; ".join(rest)]
    if isinstance(value, list):
        return [line for item in value for line in explain(item)]
    return [str(value)]


def register(app: Flask) -> None:
    app.jinja_env.filters["masked"] = mask_address
    app.jinja_env.filters["explain"] = explain
    app.jinja_env.filters["sla"] = sla_text
    app.jinja_env.filters["age"] = age_text
    app.jinja_env.filters["when"] = lambda d: format_datetime(d, "short") if d else ""
    app.jinja_env.filters["type_label"] = lambda v: FEEDBACK_TYPE_LABELS.get(v, v) if v else ""
    app.jinja_env.filters["urgency_label"] = lambda v: URGENCY_LABELS.get(v, v) if v else ""
    app.jinja_env.filters["status_label"] = lambda v: STATUS_LABELS.get(v, v) if v else ""
