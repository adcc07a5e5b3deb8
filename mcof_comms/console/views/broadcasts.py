"""Broadcasts: compose per language, count the audience, preview, approve, send, watch progress."""

from __future__ import annotations

from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from mcof_comms.auth.permissions import BROADCASTERS
from mcof_comms.broadcasts.jobs import enqueue_fan_out
from mcof_comms.broadcasts.services import (
    BroadcastError,
    approve_broadcast,
    cancel_broadcast,
    create_broadcast,
    request_send,
)
from mcof_comms.console import bp, broadcasting, require_roles, services
from mcof_comms.console.forms import BroadcastForm, EmptyForm, opts
from mcof_comms.extensions import db
from mcof_comms.i18n import MESSAGE_LOCALES
from mcof_comms.inputs import to_int
from mcof_comms.models import Broadcast, BroadcastStatus, Operation

RTL_LANGUAGES = frozenset({"ar", "fa", "ur", "ps", "he", "ckb", "ug", "yi", "dv", "sd"})


def _languages(operation: Operation | None) -> list[str]:
    langs = list(operation.languages or []) if operation else []
    for code in ("en", "fr", "ar", "es"):
        if code not in langs:
            langs.append(code)
    return langs


def _audience_from(args: Any) -> dict[str, Any]:
    """The audience dict of ``mcof_comms.broadcasts.audience`` from the compose form."""
    audience: dict[str, Any] = {}
    if languages := [v for v in args.getlist("languages") if v]:
        audience["languages"] = languages
    if channels := [v for v in args.getlist("channels") if v in ("sms", "whatsapp")]:
        audience["channels"] = channels
    if areas := [a.strip() for a in str(args.get("areas", "")).split(",") if a.strip()]:
        audience["areas"] = areas
    days = to_int(str(args.get("last_seen_days", "") or ""), maximum=36_500)
    if days:
        audience["last_seen_days"] = days
    raw_ids = str(args.get("contact_ids", "")).split(",")
    ids = [i for i in (to_int(raw.strip()) for raw in raw_ids) if i is not None]
    if ids:
        audience["contacts"] = ids[:100_000]
    return audience


def _operation_from(args: Any) -> Operation | None:
    """The operation asked for, if the user works in it; else their first one."""
    operations = services.list_operations(current_user)
    raw = str(args.get("operation_id", "") or "")
    return next((o for o in operations if str(o.id) == raw), operations[0] if operations else None)


@bp.get("/broadcasts")
@require_roles(BROADCASTERS)
def broadcasts() -> str:
    items = broadcasting.list_broadcasts(services.operation_scope(current_user))
    return render_template(
        "console/broadcasts.html",
        items=items,
        progress={b.id: broadcasting.progress(b) for b in items},
    )


@bp.get("/broadcasts/audience-count")
@require_roles(BROADCASTERS)
def audience_count() -> Response:
    operation = _operation_from(request.args)
    if operation is None:
        return jsonify(count=0)
    return jsonify(count=broadcasting.count_recipients(_audience_from(request.args), operation))


@bp.route("/broadcasts/new", methods=["GET", "POST"])
@require_roles(BROADCASTERS)
def new_broadcast() -> str | Response:
    operations = services.list_operations(current_user)
    if not operations:
        flash(_("Create an operation first."), "error")
        return redirect(url_for("console.broadcasts"))
    form = BroadcastForm()
    form.operation_id.choices = opts((o.id, o.name) for o in operations)
    selected = next((o for o in operations if o.id == form.operation_id.data), operations[0])
    languages = _languages(selected)
    form.base_language.choices = opts((code, code) for code in languages)
    form.languages.choices = opts((code, code) for code in MESSAGE_LOCALES)
    if request.method == "GET":
        form.contact_ids.data = request.args.get("contact_ids", "")
        prefill = request.args.get("text", "")
        texts = {selected.default_language or "en": prefill} if prefill else {}
    else:
        texts = {
            code: request.form.get(f"text_{code}", "").strip()
            for code in languages
            if request.form.get(f"text_{code}", "").strip()
        }
    if form.validate_on_submit():
        if not texts:
            flash(_("Write the text in at least one language."), "error")
        else:
            base = form.base_language.data or languages[0]
            if base not in texts:
                base = next(iter(texts))
            scheduled = form.scheduled_at.data
            if scheduled is not None:
                scheduled = scheduled.replace(tzinfo=ZoneInfo(selected.timezone or "UTC"))
                scheduled = scheduled.astimezone(UTC)
            try:
                broadcast = create_broadcast(
                    selected,
                    actor=current_user,
                    base_language=base,
                    translations=texts,
                    audience=_audience_from(request.form),
                    scheduled_at=scheduled,
                )
            except BroadcastError as exc:
                db.session.rollback()
                flash(_("The broadcast is not valid: %(reason)s", reason=str(exc)), "error")
            else:
                db.session.commit()
                return redirect(url_for("console.broadcast_view", broadcast_id=broadcast.id))
    return render_template(
        "console/broadcast_new.html",
        form=form,
        languages=languages,
        texts=texts,
        rtl=RTL_LANGUAGES,
    )


def _get(broadcast_id: int) -> Broadcast:
    broadcast = db.get_or_404(Broadcast, broadcast_id)
    if not services.in_scope(current_user, broadcast.operation_id):
        abort(403)
    return broadcast


@bp.get("/broadcasts/<int:broadcast_id>")
@require_roles(BROADCASTERS)
def broadcast_view(broadcast_id: int) -> str:
    broadcast = _get(broadcast_id)
    shown = broadcasting.preview(broadcast)
    db.session.rollback()  # the preview notes a recipient count; a page view changes nothing
    return render_template(
        "console/broadcast.html",
        broadcast=broadcast,
        preview=shown,
        progress=broadcasting.progress(broadcast),
        form=EmptyForm(),
        editable=broadcast.status in (BroadcastStatus.DRAFT, BroadcastStatus.PENDING_APPROVAL),
    )


@bp.get("/broadcasts/<int:broadcast_id>/progress")
@require_roles(BROADCASTERS)
def broadcast_progress(broadcast_id: int) -> Response:
    broadcast = _get(broadcast_id)
    return jsonify(broadcasting.progress(broadcast).as_json(broadcast))


@bp.post("/broadcasts/<int:broadcast_id>/<any(send, approve, cancel):action>")
@require_roles(BROADCASTERS)
def broadcast_action(broadcast_id: int, action: str) -> Response:
    broadcast = _get(broadcast_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        if action == "send":
            request_send(broadcast, actor=current_user)
        elif action == "approve":
            approve_broadcast(broadcast, actor=current_user)
        else:
            cancel_broadcast(broadcast, actor=current_user)
    except BroadcastError as exc:
        db.session.rollback()
        flash(_("This broadcast cannot do that now: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for("console.broadcast_view", broadcast_id=broadcast.id))
    db.session.commit()
    if broadcast.status is BroadcastStatus.PENDING_APPROVAL:
        flash(_("This audience is large: another person must approve it first."), "error")
    elif broadcast.status in (BroadcastStatus.SENDING, BroadcastStatus.SCHEDULED):
        enqueue_fan_out(broadcast.id)
    return redirect(url_for("console.broadcast_view", broadcast_id=broadcast.id))
