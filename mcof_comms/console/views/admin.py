"""Admin pages: the audit log, and the console's error pages."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from mcof_comms import audit
from mcof_comms.auth.permissions import AUDITORS
from mcof_comms.console import bp, require_roles, services
from mcof_comms.console.forms import EmptyForm
from mcof_comms.extensions import db
from mcof_comms.inputs import to_int
from mcof_comms.models import Membership, User


@bp.get("/audit")
@require_roles(AUDITORS)
def audit_log() -> str:
    entries = audit.list_entries(
        before_id=to_int(request.args.get("before", "")), action=request.args.get("action")
    )
    users = {u.id: u for u in services.list_staff()}
    return render_template("console/audit.html", entries=entries, users=users)


@bp.get("/admin/users")
@require_roles(AUDITORS)
def admin_users() -> str:
    """Staff, their roles, and the operations each works in (none ticked: none)."""
    users = list(db.session.scalars(select(User).order_by(User.email)))
    memberships: dict[int, set[int]] = {}
    everywhere: set[int] = set()
    for membership in db.session.scalars(select(Membership)):
        if membership.all_operations:
            everywhere.add(membership.user_id)
        elif membership.operation_id is not None:
            memberships.setdefault(membership.user_id, set()).add(membership.operation_id)
    return render_template(
        "console/admin_users.html",
        users=users,
        memberships=memberships,
        everywhere=everywhere,
        operations=services.list_operations(),
        form=EmptyForm(),
    )


@bp.post("/admin/users/<int:user_id>/operations")
@require_roles(AUDITORS)
def set_operations(user_id: int) -> Response:
    """Replace a user's memberships with the operations ticked, or the all-operations grant.

    Unticking every operation leaves the user in none: all operations is only ever explicit.
    """
    user = db.get_or_404(User, user_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    chosen = (to_int(v) for v in request.form.getlist("operation_ids"))
    everywhere = request.form.get("all_operations") == "1"
    kept = services.set_operations(
        user, [i for i in chosen if i is not None], all_operations=everywhere
    )
    audit.record(current_user, "user.operations", "user", user.id, operations=kept, all=everywhere)
    db.session.commit()
    return redirect(url_for("console.admin_users"))


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
