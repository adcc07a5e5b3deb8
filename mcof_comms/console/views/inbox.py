"""The inbox: visible cases, filtered, most urgent and oldest first, keyset-paged; bulk actions."""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from mcof_comms.auth.permissions import CASE_WORKERS, can_see_sensitive, can_view_case
from mcof_comms.console import bp, require_roles, services, workflow
from mcof_comms.console.forms import BulkForm, opts
from mcof_comms.extensions import db
from mcof_comms.inputs import int_arg, to_int
from mcof_comms.models import Case, CaseStatus, Channel, FeedbackType, Role, Urgency, User


def _enum(enum_cls: type, raw: str | None) -> object | None:
    if not raw:
        return None
    try:
        return enum_cls(raw)
    except ValueError:
        return None


def _date(raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        return None
    return day if day < date.max else None  # the filter's end is the next day


def parse_filters(args: MultiDict[str, str]) -> services.InboxFilters:
    """Filters from the query string; unknown values are ignored rather than failing."""
    status = args.get("status", "open")
    if status not in ("open", "all") and status not in {s.value for s in CaseStatus}:
        status = "open"
    sensitive = {"yes": True, "no": False}.get(args.get("sensitive", ""))
    return services.InboxFilters(
        operation_id=int_arg(args, "operation_id"),
        sector=args.get("sector") or None,
        feedback_type=_enum(FeedbackType, args.get("feedback_type")),  # type: ignore[arg-type]
        urgency=_enum(Urgency, args.get("urgency")),  # type: ignore[arg-type]
        sensitive=sensitive,
        status=status,
        language=args.get("language") or None,
        area=args.get("area") or None,
        channel=_enum(Channel, args.get("channel")),  # type: ignore[arg-type]
        date_from=_date(args.get("date_from")),
        date_to=_date(args.get("date_to")),
        assignee=args.get("assignee") or None,
        q=(args.get("q") or "").strip()[:200] or None,
        review=args.get("review") == "1",
    )


def _bulk_form() -> BulkForm:
    form = BulkForm()
    staff = services.list_staff()
    form.assignee.choices = opts([("", "—"), *((u.id, u.name or u.email) for u in staff)])
    form.sector.choices = opts(
        [("", "—"), *((s, s) for s in services.list_sector_slugs(current_user))]
    )
    return form


@bp.get("/inbox")
@require_roles(CASE_WORKERS)
def inbox() -> str:
    filters = parse_filters(request.args)
    show_messages = request.args.get("view") == "messages"
    if show_messages:
        page = None
        messages = services.list_inbound_messages(current_user, filters, request.args.get("cursor"))
    else:
        page = services.list_inbox(current_user, filters, request.args.get("cursor"))
        messages = None
    return render_template(
        "console/inbox.html",
        page=page,
        messages=messages,
        view_args={"view": "messages"} if show_messages else {},
        filters=filters,
        filter_args=filters.as_args(),
        operations=services.list_operations(current_user),
        sectors=services.list_sector_slugs(current_user),
        languages=services.list_languages(),
        areas=services.list_areas(),
        staff=services.list_staff(),
        review_count=services.count_review_queue(current_user),
        show_sensitive_filter=can_see_sensitive(current_user.role),
        bulk_form=_bulk_form(),
        now_cursor=request.args.get("cursor"),
    )


@bp.post("/inbox/bulk")
@require_roles(CASE_WORKERS)
def bulk() -> Response:
    """Assign, label or close-with-a-message several cases at once (only visible ones)."""
    form = _bulk_form()
    if not form.validate_on_submit():
        abort(400)
    ids = [i for i in (form.case_ids.data or []) if isinstance(i, int)][:200]
    cases = [
        c
        for c in db.session.scalars(select(Case).where(Case.id.in_(ids)))
        if can_view_case(current_user, c) and services.in_scope(current_user, c.operation_id)
    ]
    if len(cases) != len(set(ids)):
        abort(403)
    sent: list[int] = []
    skipped = 0
    for case in cases:
        if form.action.data == "assign":
            assignee_id = to_int(form.assignee.data or "")
            assignee = db.session.get(User, assignee_id) if assignee_id is not None else None
            workflow.assign_case(case, current_user, assignee)
        elif form.action.data == "label":
            chosen = form.sector.data or None
            if (
                chosen
                and current_user.role is Role.SECTOR_FOCAL_POINT
                and chosen not in (current_user.sectors or [])
            ):
                db.session.rollback()
                abort(403)  # a sector focal point labels only into their own sectors
            try:
                workflow.relabel(
                    case,
                    current_user,
                    sector=form.sector.data or None,
                    feedback_type=_enum(FeedbackType, form.feedback_type.data),  # type: ignore[arg-type]
                )
            except workflow.WorkflowError:
                db.session.rollback()
                flash(_("This sector is not in the taxonomy."), "error")
                return redirect(_back_to_inbox())
        elif form.action.data == "close":
            text = (form.message.data or "").strip()
            if not text:
                flash(_("Write the message to send before closing."), "error")
                db.session.rollback()
                return redirect(request.referrer or url_for("console.inbox"))
            if case.status is CaseStatus.CLOSED:
                skipped += 1
                continue
            try:
                reply = workflow.reply_to_case(case, current_user, text)
            except workflow.WorkflowError:  # e.g. the person opted out: leave the case open
                skipped += 1
                continue
            sent.append(reply.id)
            sent += workflow.change_status(case, current_user, CaseStatus.CLOSED)
    db.session.commit()
    workflow.enqueue_send(sent)
    flash(_("%(count)d case(s) updated.", count=len(cases) - skipped), "success")
    return redirect(_back_to_inbox())


def _back_to_inbox() -> str:
    referrer = request.referrer or ""
    if "/inbox" in referrer and referrer.startswith(request.host_url):
        return referrer
    return url_for("console.inbox")
