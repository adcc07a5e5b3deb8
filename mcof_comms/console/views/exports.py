"""Download the cases or messages behind the current inbox filters, as CSV or XLSX."""

from __future__ import annotations

import dataclasses

from flask import Response, request, stream_with_context
from flask_login import current_user

from mcof_comms import audit
from mcof_comms.auth.permissions import EXPORTERS
from mcof_comms.console import bp, exports, require_roles
from mcof_comms.console.views.inbox import parse_filters
from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import Role

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/exports/<any(cases, messages):kind>.<any(csv, xlsx):fmt>")
@require_roles(EXPORTERS)
def export(kind: str, fmt: str) -> Response:
    filters = parse_filters(request.args)
    if current_user.role is Role.VIEWER:  # bodies are withheld, so searching them is too
        filters = dataclasses.replace(filters, q=None)
    if kind == "cases":
        columns, rows = exports.CASE_COLUMNS, exports.case_rows(current_user, filters)
    else:
        columns, rows = exports.MESSAGE_COLUMNS, exports.message_rows(current_user, filters)
    entry = audit.record(current_user, "export", kind, None, format=fmt, filters=filters.as_args())
    db.session.flush()
    # and the sensitive cases it holds, one entry each, as for every other sensitive read
    audit.record_sensitive_reads(
        current_user,
        exports.sensitive_case_ids(current_user, filters),
        via="export",
        export_id=entry.id,
    )
    db.session.commit()
    name = f"mcof-{kind}-{utcnow():%Y%m%d-%H%M}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        return Response(
            stream_with_context(exports.to_csv(columns, rows)),
            mimetype="text/csv",
            headers=headers,
        )
    return Response(exports.to_xlsx(columns, rows, kind), mimetype=XLSX, headers=headers)
