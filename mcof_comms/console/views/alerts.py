"""Life-threatening alerts in the console: the alert bar on every page, and acknowledging one."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from mcof_comms.auth.permissions import CASE_WORKERS
from mcof_comms.cases import alerts
from mcof_comms.console import bp, require_roles
from mcof_comms.console.forms import EmptyForm
from mcof_comms.extensions import db
from mcof_comms.models import Case


@bp.get("/alerts.json")
@require_roles(CASE_WORKERS)
def alerts_json() -> Response:
    """What the alert bar shows, polled by every console page (references and links only)."""
    rows = [
        {
            "case_id": case.id,
            "reference": case.reference,
            "raised_at": case.life_alert_at.isoformat() if case.life_alert_at else None,
            "escalated": case.life_alert_escalated_at is not None,
            "url": url_for("console.case_view", case_id=case.id),
        }
        for case in alerts.open_alerts(current_user)
    ]
    return jsonify({"alerts": rows})


@bp.post("/alerts/<int:case_id>/acknowledge")
@require_roles(CASE_WORKERS)
def acknowledge_alert(case_id: int) -> Response:
    case = db.get_or_404(Case, case_id)
    if not alerts.may_acknowledge(current_user, case):
        abort(403)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if alerts.acknowledge_alert(case, current_user):
        flash(_("Alert acknowledged: escalation stopped."), "success")
    db.session.commit()
    target = request.form.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("console.case_view", case_id=case.id)
    return redirect(target)
