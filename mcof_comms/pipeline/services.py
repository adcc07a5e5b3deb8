"""Run triage on one inbound message and file it as a routed, acknowledged case.

Called by ``process_inbound_message`` inside the job's transaction: it flushes, never commits.
Messages of one contact are triaged one at a time (a transaction-scoped advisory lock on
PostgreSQL), so two messages on the same topic arriving together join one case.
"""

from __future__ import annotations

import logging
from typing import Any

from flask_babel import force_locale
from sqlalchemy import text
from sqlalchemy.orm import joinedload

from mcof_comms.cases.outbox import queue_system_message
from mcof_comms.cases.services import Triaged, acknowledge, file_message, reply_locale
from mcof_comms.extensions import db
from mcof_comms.models import (
    Contact,
    FeedbackType,
    LanguageSource,
    Message,
    MessageKind,
    Urgency,
)
from mcof_comms.operations.services import OperationInfo, get_taxonomy, resolve_operation
from mcof_comms.pipeline.language import parse_language_choice
from mcof_comms.pipeline.signal_training import get_signal_model
from mcof_comms.pipeline.training import get_promoted_model
from mcof_comms.pipeline.triage import TriageResult, triage

logger = logging.getLogger(__name__)

#: Contact language sources triage must not overwrite.
KEPT_LANGUAGE_SOURCES = (LanguageSource.CHOSEN, LanguageSource.CONSOLE)
_LOCK_NAMESPACE = 7301  # pg_advisory_xact_lock(namespace, contact id): triage per contact


def run_pipeline(message: Message) -> None:
    """Triage a feedback message; other kinds were already handled when they arrived."""
    if message.kind is not MessageKind.FEEDBACK:
        return
    _lock_contact(message.contact_id)
    # the contact and its channels in one query; ``message.contact`` then finds it in the session
    contact = db.session.get_one(
        Contact, message.contact_id, options=[joinedload(Contact.channels)]
    )
    setup = resolve_operation(message)

    chosen = parse_language_choice(message.body or "")
    if chosen is not None:
        _choose_language(message, contact, chosen, setup.operation)
        return

    taxonomy = get_taxonomy()
    hint = contact.language if contact.language_source in KEPT_LANGUAGE_SOURCES else None
    result = triage(
        message.body or "",
        taxonomy=taxonomy,
        model=get_promoted_model(),
        signals=get_signal_model(taxonomy),
        language_hint=hint,
        active_sectors=setup.active_sectors,
    )
    confident = result.language.confidence >= taxonomy.thresholds.language
    detected = result.language.code if hint is None and confident else None
    triaged = _triaged(result)
    filed = file_message(
        message,
        triaged,
        setup=setup,
        taxonomy=taxonomy,
        will_acknowledge=not contact.is_opted_out(message.channel),
    )
    reply = acknowledge(
        filed.case,
        message,
        setup.operation,
        detected=detected,
        new_case=filed.created,
        life_alert=filed.life_alert,
    )

    # written last, so the job's commit updates the message (and the contact) once
    _store(message, result, operation_id=setup.operation.id)
    message.case_id = filed.case.id
    message.triage = {
        **message.triage,
        "case": {
            "id": filed.case.id,
            "created": filed.created,
            "route": filed.route.reason if filed.route else "joined",
            "team_id": filed.case.team_id,
        },
        "acknowledgement_id": reply.id if reply else None,
    }
    if detected is not None:
        if contact.language != detected:
            contact.language = detected
        if contact.language_source is not LanguageSource.DETECTED:
            contact.language_source = LanguageSource.DETECTED


def _lock_contact(contact_id: int) -> None:
    """Serialize triage per contact, and commit this transaction without waiting for the WAL
    flush: a crash can lose only the last few hundred milliseconds of triage, never a message
    (the webhook committed it durably, so it stays RECEIVED and the sweeper runs it again)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            text(
                "SELECT set_config('synchronous_commit', 'off', true), "
                "pg_advisory_xact_lock(:ns, :id)"
            ),
            {"ns": _LOCK_NAMESPACE, "id": contact_id},
        )


def _triaged(result: TriageResult) -> Triaged:
    """Triage's decisions as the case services need them (assigned sectors only)."""
    return Triaged(
        sectors=[
            {"slug": s.slug, "confidence": s.confidence, "source": s.source}
            for s in result.assigned_sectors
        ],
        feedback_type=FeedbackType(result.feedback_type.value or FeedbackType.OTHER.value),
        urgency=Urgency(result.urgency.value or Urgency.NORMAL.value),
        sensitive_category=result.sensitivity.value if result.sensitivity is not None else None,
        needs_review=result.needs_review,
        language=result.language.code,
    )


def _store(message: Message, result: TriageResult, *, operation_id: int) -> None:
    """Store triage's decisions, and why it made them, on the message."""
    message.operation_id = operation_id
    message.language = result.language.code
    message.sectors = [
        {"slug": s.slug, "confidence": s.confidence, "source": s.source} for s in result.sectors
    ]
    message.feedback_type = FeedbackType(result.feedback_type.value or FeedbackType.OTHER.value)
    message.urgency = Urgency(result.urgency.value or Urgency.NORMAL.value)
    message.sensitive_category = (
        result.sensitivity.value if result.sensitivity is not None else None
    )
    message.needs_review = result.needs_review
    explanations: dict[str, Any] = dict(result.explanations)
    message.triage = explanations


def _choose_language(
    message: Message, contact: Contact, code: str, operation: OperationInfo
) -> None:
    """``LANG fr``: remember the contact's choice and confirm it in that language; no case."""
    from mcof_comms.outbound import texts

    message.operation_id = operation.id
    message.kind = MessageKind.LANGUAGE
    message.language = code
    message.triage = {"language_choice": code}
    contact.language = code
    contact.language_source = LanguageSource.CHOSEN
    if contact.is_opted_out(message.channel):
        return
    locale = reply_locale(message, operation)
    with force_locale(locale):
        body = texts.language_confirmation()
    queue_system_message(message, body, operation_id=operation.id, language=locale)
    logger.info("contact %s chose language %s (message %s)", contact.id, code, message.id)
