"""Simulator for trainings and demos: write as a pretend person and watch triage and replies.

Messages go through the real receive path and pipeline (``receive_message`` then
``process_inbound_message``, run inline), from a ``sim:`` address that no provider can deliver
to, so nothing reaches Twilio or a real phone.
"""

from __future__ import annotations

import secrets

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from mcof_comms.auth.permissions import TRAINERS
from mcof_comms.channels.inbound import Address, InboundMessage
from mcof_comms.console import bp, require_roles
from mcof_comms.console.forms import SimulatorForm
from mcof_comms.extensions import db
from mcof_comms.models import Case, Channel, ContactChannel, Message

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


def conversation(phone: str) -> list[tuple[Message, Case | None]]:
    contact_id = db.session.scalar(
        select(ContactChannel.contact_id).where(ContactChannel.address == sim_address(phone))
    )
    if contact_id is None:
        return []
    rows = db.session.execute(
        select(Message, Case)
        .outerjoin(Case, Case.id == Message.case_id)
        .where(Message.contact_id == contact_id)
        .order_by(Message.id.desc())
        .limit(40)
    )
    return [(m, c) for m, c in reversed(list(rows))]


@bp.route("/simulator", methods=["GET", "POST"])
@require_roles(TRAINERS)
def simulator() -> str | Response:
    form = SimulatorForm(phone=request.args.get("phone", "+50937000001"))
    if form.validate_on_submit():
        phone = form.phone.data or ""
        if sum(ch.isdigit() for ch in phone) < 6:
            flash(_("Type a phone number with at least 6 digits."), "error")
        else:
            simulate_inbound(phone, Channel(form.channel.data), form.body.data or "")
            return redirect(url_for("console.simulator", phone=phone))
    phone = form.phone.data or ""
    return render_template(
        "console/simulator.html", form=form, rows=conversation(phone) if phone else []
    )
