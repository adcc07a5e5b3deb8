"""The dashboard: volumes, open versus closed, response times against the SLA, loop closure,
and rumour clusters with a one-click corrective broadcast."""

from __future__ import annotations

from flask import render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from mcof_comms.auth.permissions import BROADCASTERS, DASHBOARD_READERS, can_see_sensitive
from mcof_comms.console import bp, insight, require_roles, services
from mcof_comms.console.forms import FEEDBACK_TYPE_LABELS
from mcof_comms.inputs import to_int
from mcof_comms.models import Role

PERIODS = (7, 30, 90, 365)


@bp.get("/dashboard")
@require_roles(DASHBOARD_READERS)
def dashboard() -> str:
    days = to_int(request.args.get("days", "30"))
    days_n = days if days in PERIODS else 30
    operations = services.list_operations(current_user)
    op = request.args.get("operation_id", "")
    chosen = [o.id for o in operations if str(o.id) == op]
    operation_id = chosen[0] if chosen else None
    scope = services.operation_scope(current_user)
    data = insight.build_dashboard(
        days=days_n,
        operation_ids=chosen or scope,
        sensitive=can_see_sensitive(current_user.role),
    )
    type_labels = {k.value: str(v) for k, v in FEEDBACK_TYPE_LABELS.items()}
    by_type = {type_labels.get(k, k): v for k, v in data.by_type.items()}
    charts = {
        "sector": insight.bar_chart(_("Cases by sector"), data.by_sector, _("Cases")),
        "type": insight.bar_chart(_("Cases by feedback type"), by_type, _("Cases")),
        "area": insight.bar_chart(_("Cases by area"), data.by_area, _("Cases")),
        "week": insight.line_chart(_("Cases per week"), data.by_week, _("Cases")),
        "status": insight.pie_chart(
            _("Open and closed cases"), {_("Open"): data.open_count, _("Closed"): data.closed_count}
        ),
    }
    return render_template(
        "console/dashboard.html",
        data=data,
        charts=charts,
        periods=PERIODS,
        operations=operations,
        operation_id=operation_id,
        can_broadcast=current_user.role in BROADCASTERS,
        # people's words only for roles that read every non-sensitive case anyway
        show_examples=current_user.role in (Role.ADMIN, Role.COORDINATOR),
    )
