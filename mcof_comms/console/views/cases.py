"""One case: the conversation, why triage decided, and every action on it."""

from __future__ import annotations

import secrets

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from mcof_comms import audit
from mcof_comms.auth.permissions import (
    CASE_WORKERS,
    SENSITIVE_READERS,
    TRAINERS,
    can_see_phone_numbers,
    can_see_sensitive,
    can_view_case,
)
from mcof_comms.cases import protection
from mcof_comms.console import bp, require_roles, services, workflow
from mcof_comms.console.forms import (
    STATUS_LABELS,
    AssignForm,
    CannedResponseForm,
    EmptyForm,
    MarkSensitiveForm,
    NoteForm,
    ProtectionConfirmForm,
    RelabelForm,
    ReplyForm,
    StatusForm,
    opts,
)
from mcof_comms.extensions import db
from mcof_comms.i18n import MESSAGE_LOCALES
from mcof_comms.models import Case, CaseStatus, FeedbackType, Operation, Urgency, User
from mcof_comms.outbound.segments import count_segments

WORKFLOW_ERRORS = {
    "transition not allowed": lambda: _("This status change is not allowed."),
    "partner required": lambda: _("Name the partner the case is referred to."),
    "response or reason required": lambda: _(
        "Reply to the person before closing, or mark the response as not needed and give a reason."
    ),
    "empty note": lambda: _("The note is empty."),
    "unknown sector": lambda: _("This sector is not in the taxonomy."),
    "empty reply": lambda: _("The reply is empty."),
    "unknown category": lambda: _("Choose a safeguarding category."),
    "already sensitive": lambda: _("This case is already in the protection queue."),
    "cannot send": lambda: _(
        "This reply cannot be sent: the person opted out or has no address on this channel."
    ),
}


def get_case_or_404(case_id: int) -> Case:
    """Load a case the current user may open; 404 for missing and for one they may not open
    alike (as the API answers), so the answer never tells that a sensitive case exists."""
    case = db.get_or_404(Case, case_id)
    if not can_view_case(current_user, case) or not services.in_scope(
        current_user, case.operation_id
    ):
        if case.sensitive_category is not None:
            audit.record(current_user, "denied_sensitive_case", "case", case.id)
            db.session.commit()
        abort(404)
    return case


def canned_responses(operation: Operation) -> list[dict[str, str]]:
    items = (operation.settings or {}).get("canned_responses", [])
    return [i for i in items if isinstance(i, dict)]


def _forms(case: Case) -> dict[str, object]:
    sectors = services.list_sector_slugs(current_user)
    if case.sector and case.sector not in sectors:
        sectors = [case.sector, *sectors]
    shown = _labels(case)
    relabel = RelabelForm(**shown, **{f"shown_{k}": v for k, v in shown.items()}, formdata=None)
    # a case without a sector offers "none" first, so saving another label never picks one
    relabel.sector.choices = opts(
        [*([("", "—")] if not case.sector else []), *((s, s) for s in sectors)]
    )
    categories = opts(protection.sensitivity_categories().items())
    mark = MarkSensitiveForm(formdata=None)
    mark.category.choices = categories
    confirm = ProtectionConfirmForm(category=case.sensitive_category, formdata=None)
    confirm.category.choices = categories
    assign = AssignForm(assignee=str(case.assignee_id or ""))
    assign.assignee.choices = opts(
        [("", _("Nobody")), *((u.id, u.name or u.email) for u in services.list_staff())]
    )
    status = StatusForm(status=case.status.value, partner=case.referral_partner)
    allowed = {case.status, *workflow.TRANSITIONS[case.status]}
    status.status.choices = opts(
        (k.value, label) for k, label in STATUS_LABELS.items() if k in allowed
    )
    return {
        "relabel_form": relabel,
        "mark_sensitive_form": mark,
        "protection_form": confirm,
        "assign_form": assign,
        "status_form": status,
        "reply_form": ReplyForm(),
        "note_form": NoteForm(),
        "empty_form": EmptyForm(),
    }


def _labels(case: Case) -> dict[str, str]:
    return {
        "sector": case.sector or "",
        "feedback_type": case.feedback_type.value,
        "urgency": case.urgency.value,
    }


def render_case(case: Case, *, revealed: bool = False, status: int = 200) -> tuple[str, int]:
    if case.sensitive_category is not None:
        audit.record(current_user, "view_sensitive_case", "case", case.id)
        db.session.commit()
    conversation = services.get_conversation(case)
    triage_message = next((m for m in conversation if m.triage), None)
    staff = {u.id: u for u in services.list_staff()}
    canned = canned_responses(case.operation)
    return (
        render_template(
            "console/case.html",
            case=case,
            conversation=conversation,
            triage_message=triage_message,
            events=services.get_case_events(case),
            staff=staff,
            sla=services.sla_clock(case),
            window=services.whatsapp_window(case.contact),
            reply_channel=workflow.reply_channel(case),
            show_numbers=revealed or can_see_phone_numbers(current_user.role),
            canned=[c for c in canned if c.get("language") in (case.language, None, "")] or canned,
            has_response=workflow.has_response(case),
            count_segments=count_segments,
            may_review_protection=can_see_sensitive(current_user.role),
            **_forms(case),
        ),
        status,
    )


@bp.get("/cases/<int:case_id>")
@require_roles(CASE_WORKERS)
def case_view(case_id: int) -> tuple[str, int]:
    return render_case(get_case_or_404(case_id))


def _finish(case: Case, error: workflow.WorkflowError | None = None) -> Response:
    if error is not None:
        db.session.rollback()
        flash(WORKFLOW_ERRORS.get(str(error), lambda: str(error))(), "error")
    else:
        db.session.commit()
    return redirect(url_for("console.case_view", case_id=case.id))


@bp.post("/cases/<int:case_id>/reply")
@require_roles(CASE_WORKERS)
def reply(case_id: int) -> Response:
    case = get_case_or_404(case_id)
    form = ReplyForm()
    if not form.validate_on_submit():
        flash(_("The reply is empty."), "error")
        return redirect(url_for("console.case_view", case_id=case.id))
    try:
        message = workflow.reply_to_case(case, current_user, form.body.data or "")
    except workflow.WorkflowError as exc:
        return _finish(case, exc)
    db.session.commit()
    workflow.enqueue_send([message.id])
    flash(_("Reply queued."), "success")
    return redirect(url_for("console.case_view", case_id=case.id))


@bp.post("/cases/<int:case_id>/note")
@require_roles(CASE_WORKERS)
def note(case_id: int) -> Response:
    case = get_case_or_404(case_id)
    form = NoteForm()
    if not form.validate_on_submit():
        return _finish(case, workflow.WorkflowError("empty note"))
    try:
        workflow.add_note(case, current_user, form.text.data or "")
    except workflow.WorkflowError as exc:
        return _finish(case, exc)
    return _finish(case)


@bp.post("/cases/<int:case_id>/relabel")
@require_roles(CASE_WORKERS)
def relabel(case_id: int) -> Response:
    case = get_case_or_404(case_id)
    form = RelabelForm()
    form.sector.choices = opts(
        (s, s) for s in {case.sector, *services.list_sector_slugs(current_user)} if s
    )
    if not form.validate_on_submit():
        abort(400)
    shown = {k: getattr(form, f"shown_{k}").data or "" for k in _labels(case)}
    shown = {k: v for k, v in shown.items() if getattr(form, f"shown_{k}").raw_data}
    try:
        workflow.relabel(
            case,
            current_user,
            sector=form.sector.data or None,
            feedback_type=FeedbackType(form.feedback_type.data),
            urgency=Urgency(form.urgency.data),
            shown=shown,
        )
    except workflow.WorkflowError as exc:
        return _finish(case, exc)
    flash(_("Labels saved; the correction will train triage."), "success")
    return _finish(case)


@bp.post("/cases/<int:case_id>/mark-sensitive")
@require_roles(CASE_WORKERS)
def mark_sensitive(case_id: int) -> Response:
    """Move a case to the protection queue; whoever cannot see sensitive cases loses it now."""
    case = get_case_or_404(case_id)
    form = MarkSensitiveForm()
    form.category.choices = opts(protection.sensitivity_categories().items())
    if not form.validate_on_submit():
        abort(400)
    try:
        protection.mark_sensitive(case, current_user, form.category.data or "")
    except protection.ProtectionError as exc:
        return _finish(case, workflow.WorkflowError(str(exc)))
    db.session.commit()
    flash(_("The case is now in the protection queue."), "success")
    if can_view_case(current_user, case):
        return redirect(url_for("console.case_view", case_id=case.id))
    return redirect(url_for("console.inbox"))


@bp.post("/cases/<int:case_id>/protection/confirm")
@require_roles(SENSITIVE_READERS)
def protection_confirm(case_id: int) -> Response:
    case = get_case_or_404(case_id)
    form = ProtectionConfirmForm()
    form.category.choices = opts(protection.sensitivity_categories().items())
    if not form.validate_on_submit():
        abort(400)
    try:
        protection.confirm_sensitive(case, current_user, form.category.data or None)
    except protection.ProtectionError as exc:
        return _finish(case, workflow.WorkflowError(str(exc)))
    flash(_("Confirmed as sensitive."), "success")
    return _finish(case)


@bp.post("/cases/<int:case_id>/protection/clear")
@require_roles(SENSITIVE_READERS)
def protection_clear(case_id: int) -> Response:
    case = get_case_or_404(case_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        protection.clear_sensitive(case, current_user)
    except protection.ProtectionError as exc:
        return _finish(case, workflow.WorkflowError(str(exc)))
    db.session.commit()
    flash(_("Cleared: the case went to its sector team."), "success")
    if can_view_case(current_user, case):
        return redirect(url_for("console.case_view", case_id=case.id))
    return redirect(url_for("console.inbox", sensitive="yes"))


@bp.post("/cases/<int:case_id>/assign")
@require_roles(CASE_WORKERS)
def assign(case_id: int) -> Response:
    case = get_case_or_404(case_id)
    form = AssignForm()
    form.assignee.choices = opts([("", ""), *((u.id, u.email) for u in services.list_staff())])
    if not form.validate_on_submit():
        abort(400)
    assignee = db.session.get(User, int(form.assignee.data)) if form.assignee.data else None
    workflow.assign_case(case, current_user, assignee)
    return _finish(case)


@bp.post("/cases/<int:case_id>/status")
@require_roles(CASE_WORKERS)
def change_status(case_id: int) -> Response:
    case = get_case_or_404(case_id)
    form = StatusForm()
    if not form.validate_on_submit():
        abort(400)
    target = CaseStatus(form.status.data)
    reason = form.reason.data if form.no_response_needed.data else None
    if form.no_response_needed.data and not (reason or "").strip():
        return _finish(case, workflow.WorkflowError("response or reason required"))
    try:
        queued = workflow.change_status(
            case,
            current_user,
            target,
            partner=form.partner.data,
            note=form.note.data,
            reason=reason,
        )
    except workflow.WorkflowError as exc:
        return _finish(case, exc)
    response = _finish(case)  # commits
    workflow.enqueue_send(queued)
    return response


@bp.post("/cases/<int:case_id>/review")
@require_roles(CASE_WORKERS)
def confirm_review(case_id: int) -> Response:
    case = get_case_or_404(case_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    workflow.confirm_triage(case, current_user)
    return _finish(case)


@bp.post("/cases/<int:case_id>/reveal")
@require_roles(CASE_WORKERS)
def reveal(case_id: int) -> tuple[str, int]:
    """Show the contact's number once, for this response only; the reveal is audited."""
    case = get_case_or_404(case_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    audit.record(current_user, "reveal_phone", "contact", case.contact_id, case_id=case.id)
    db.session.commit()
    return render_case(case, revealed=True)


@bp.route("/canned", methods=["GET", "POST"])
@require_roles(TRAINERS)
def canned() -> str | Response:
    """Edit the canned responses of an operation, per language."""
    operations = services.list_operations(current_user)
    if not operations:
        abort(404)
    op_id = request.args.get("operation_id", "")
    operation = next((o for o in operations if str(o.id) == op_id), operations[0])
    form = CannedResponseForm()
    form.language.choices = opts((code, code) for code in MESSAGE_LOCALES)
    delete = EmptyForm(prefix="delete")
    if request.method == "POST":
        items = canned_responses(operation)
        if request.form.get("delete_id") and delete.validate_on_submit():
            items = [i for i in items if i.get("id") != request.form["delete_id"]]
        elif form.validate_on_submit():
            items.append(
                {
                    "id": secrets.token_hex(4),
                    "title": (form.title.data or "").strip(),
                    "language": form.language.data or "",
                    "body": (form.body.data or "").strip(),
                }
            )
        else:
            abort(400)
        operation.settings = {**(operation.settings or {}), "canned_responses": items}
        audit.record(current_user, "canned.update", "operation", operation.id, count=len(items))
        db.session.commit()
        return redirect(url_for("console.canned", operation_id=operation.id))
    return render_template(
        "console/canned.html",
        form=form,
        delete_form=delete,
        operation=operation,
        operations=operations,
        items=canned_responses(operation),
    )
