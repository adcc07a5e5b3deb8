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

from mcof_comms.cases.outbox import queue_system_message
from mcof_comms.cases.services import Triaged, acknowledge, file_message, reply_locale
from mcof_comms.extensions import db
from mcof_comms.models import (
    Contact,
    FeedbackType,
    LanguageSource,
    Message,
    MessageKind,
    Operation,
    Urgency,
)
from mcof_comms.operations.services import (
    get_operation_setup,
    get_taxonomy,
    resolve_operation,
)
from mcof_comms.pipeline.language import parse_language_choice
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
    contact = message.contact
    operation = resolve_operation(message)
    message.operation_id = operation.id

    chosen = parse_language_choice(message.body or "")
    if chosen is not None:
        _choose_language(message, contact, chosen, operation)
        return

    taxonomy = get_taxonomy()
    setup = get_operation_setup(operation)
    hint = contact.language if contact.language_source in KEPT_LANGUAGE_SOURCES else None
    result = triage(
        message.body or "",
        taxonomy=taxonomy,
        model=get_promoted_model(),
        language_hint=hint,
        active_sectors=setup.active_sectors,
    )
    triaged = _apply(message, result)
    if hint is None and result.language.confidence >= taxonomy.thresholds.language:
        contact.language = result.language.code
        contact.language_source = LanguageSource.DETECTED

    filed = file_message(message, triaged, operation=operation, setup=setup, taxonomy=taxonomy)
    message.triage = {
        **message.triage,
        "case": {
            "id": filed.case.id,
            "created": filed.created,
            "route": filed.route.reason if filed.route else "joined",
            "team_id": filed.case.team_id,
        },
    }
    reply = acknowledge(filed.case, message, operation)
    message.triage = {**message.triage, "acknowledgement_id": reply.id if reply else None}
    db.session.flush()


def _lock_contact(contact_id: int) -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            text("SELECT pg_advisory_xact_lock(:ns, :id)"),
            {"ns": _LOCK_NAMESPACE, "id": contact_id},
        )


def _apply(message: Message, result: TriageResult) -> Triaged:
    """Store triage's decisions and its reasons on the message."""
    sectors = [
        {"slug": s.slug, "confidence": s.confidence, "source": s.source} for s in result.sectors
    ]
    assigned = [s for s in sectors if s["confidence"] >= 0.5]
    feedback_type = FeedbackType(result.feedback_type.value or FeedbackType.OTHER.value)
    urgency = Urgency(result.urgency.value or Urgency.NORMAL.value)
    sensitive = result.sensitivity.value if result.sensitivity is not None else None
    message.language = result.language.code
    message.sectors = sectors
    message.feedback_type = feedback_type
    message.urgency = urgency
    message.sensitive_category = sensitive
    message.needs_review = result.needs_review
    explanations: dict[str, Any] = dict(result.explanations)
    message.triage = explanations
    return Triaged(
        sectors=assigned,
        feedback_type=feedback_type,
        urgency=urgency,
        sensitive_category=sensitive,
        needs_review=result.needs_review,
        language=result.language.code,
    )


def _choose_language(message: Message, contact: Contact, code: str, operation: Operation) -> None:
    """``LANG fr``: remember the contact's choice and confirm it in that language; no case."""
    from mcof_comms.outbound import texts

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
