"""Admin pages: the audit log, and the console's error pages."""

from __future__ import annotations

from flask import render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from mcof_comms import audit
from mcof_comms.auth.permissions import AUDITORS
from mcof_comms.console import bp, require_roles, services


@bp.get("/audit")
@require_roles(AUDITORS)
def audit_log() -> str:
    before = request.args.get("before", "")
    entries = audit.list_entries(
        before_id=int(before) if before.isdigit() else None, action=request.args.get("action")
    )
    users = {u.id: u for u in services.list_staff()}
    return render_template("console/audit.html", entries=entries, users=users)


def _error_page(error: HTTPException) -> tuple[str, int]:
    titles = {
        403: _("Not allowed"),
        404: _("Not found"),
        400: _("Bad request"),
    }
    texts = {
        403: _("Your role does not give access to this page."),
        404: _("There is nothing here."),
        400: _("The form was incomplete or expired. Go back and try again."),
    }
    code = error.code or 500
    return (
        render_template(
            "console/error.html",
            code=code,
            title=titles.get(code, str(code)),
            text=texts.get(code, ""),
        ),
        code,
    )


for _code in (400, 403, 404):
    bp.register_error_handler(_code, _error_page)
