"""Simulator for trainings and demos: write as a pretend person and watch triage and replies.

Messages go through the real receive path and pipeline (``receive_message`` then
``process_inbound_message``, run inline), from a ``sim:`` address that no provider can deliver
to, so nothing reaches Twilio or a real phone. The conversation shown follows the visibility
rule of the API and the inbox, and audits each sensitive case it shows; simulated people never
enter a broadcast audience; production has no simulator.
"""

from __future__ import annotations

import secrets

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from mcof_comms.auth.permissions import TRAINERS
from mcof_comms.auth.visibility import audit_message_reads, messages_clause
from mcof_comms.channels.inbound import Address, InboundMessage
from mcof_comms.console import bp, require_roles
from mcof_comms.console.forms import SimulatorForm
from mcof_comms.extensions import db
from mcof_comms.models import Case, Channel, ContactChannel, Message, User

SIM_PREFIX = "sim:"
SIM_TO = "simulator"


def sim_address(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    return f"{SIM_PREFIX}+{digits}"


def simulate_inbound(phone: str, channel: Channel, body: str) -> int:
    """Receive and process one pretend message; returns its id. Commits."""
    from mcof_comms.inbound.jobs import process_inbound_message
    from mcof_comms.inbound.services import receive_message

    inbound = InboundMessage(
        external_id="SIM" + secrets.token_hex(15),
        sender=Address(channel=channel, address=sim_address(phone), phone=None),
        to=SIM_TO,
        body=body,
    )
    received = receive_message(inbound)
    message_id = received.message_id if hasattr(received, "message_id") else received.message.id
    db.session.commit()
    process_inbound_message(message_id)
    from mcof_comms.demo import skip_simulated_sends

    skip_simulated_sends()  # replies stay on screen: no provider can deliver to sim: addresses
    db.session.commit()
    return int(message_id)


def conversation(phone: str, user: User) -> list[tuple[Message, Case | None]]:
    """The simulated person's last messages that ``user`` may see (the visibility rule of the
    API and the inbox); each sensitive case shown is audited. Flushes, no commit."""
    contact_id = db.session.scalar(
        select(ContactChannel.contact_id).where(ContactChannel.address == sim_address(phone))
    )
    if contact_id is None:
        return []
    rows = list(
        db.session.execute(
            select(Message, Case)
            .outerjoin(Case, Case.id == Message.case_id)
            .where(Message.contact_id == contact_id, messages_clause(user))
            .order_by(Message.id.desc())
            .limit(40)
        )
    )
    audit_message_reads(user, (m for m, _case in rows), via="simulator")
    return [(m, c) for m, c in reversed(rows)]


@bp.route("/simulator", methods=["GET", "POST"])
@require_roles(TRAINERS)
def simulator() -> str | Response:
    if current_app.extensions["mcof_settings"].is_production:
        abort(404)  # trainings run on a training deployment, never beside real people
    form = SimulatorForm(phone=request.args.get("phone", "+50937000001"))
    if form.validate_on_submit():
        phone = form.phone.data or ""
        if sum(ch.isdigit() for ch in phone) < 6:
            flash(_("Type a phone number with at least 6 digits."), "error")
        else:
            simulate_inbound(phone, Channel(form.channel.data), form.body.data or "")
            return redirect(url_for("console.simulator", phone=phone))
    phone = form.phone.data or ""
    rows = conversation(phone, current_user) if phone else []
    db.session.commit()  # audit entries
    return render_template("console/simulator.html", form=form, rows=rows)
