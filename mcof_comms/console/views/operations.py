"""Operation settings for admins: on-call numbers, emergency number, escalation delay."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from mcof_comms.auth.permissions import AUDITORS
from mcof_comms.cases import alerts
from mcof_comms.console import bp, require_roles, services
from mcof_comms.console.forms import OperationAlertsForm
from mcof_comms.extensions import db
from mcof_comms.models import Operation


@bp.get("/admin/operations")
@require_roles(AUDITORS)
def operations_settings() -> str:
    return render_template(
        "console/operations.html", operations=services.list_operations(), form=None
    )


@bp.route("/admin/operations/<int:operation_id>", methods=["GET", "POST"])
@require_roles(AUDITORS)
def operation_settings(operation_id: int) -> str | Response:
    operation = db.get_or_404(Operation, operation_id)
    if request.method == "GET":
        current = operation.settings or {}
        form = OperationAlertsForm(data={k: current.get(k) for k in OperationAlertsForm.KEYS})
    else:
        form = OperationAlertsForm()
    if form.validate_on_submit():
        try:
            alerts.update_alert_settings(
                operation, current_user, {k: getattr(form, k).data for k in form.KEYS}
            )
        except ValueError as exc:
            db.session.rollback()
            flash(_("Not saved: %(problem)s", problem=str(exc)), "error")
        else:
            db.session.commit()
            flash(_("Settings saved."), "success")
            return redirect(url_for("console.operation_settings", operation_id=operation_id))
    return render_template(
        "console/operations.html",
        operations=services.list_operations(),
        operation=operation,
        form=form,
        escalation_default=alerts.on_call_of({}).escalation.total_seconds() // 60,
    )
