"""The protection queue: review of sensitive cases, and marking a case sensitive by hand.

A case triage flagged sensitive, or one a case worker marked sensitive, waits in the protection
queue as *awaiting protection review*; only protection focal points (and admins) see it. A
protection focal point **confirms** it (possibly as another category) or **clears** it, which
releases it to the sector team triage chose: an ordinary case from then on. Marking a case
sensitive is one-way for case workers; only a protection decision clears it. Each decision is a
case event, an audit entry and a training example. Services flush, never commit.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from mcof_comms import audit
from mcof_comms.auth.permissions import can_see_sensitive
from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import Case, CaseEvent, Message, ProtectionStatus, User
from mcof_comms.operations.services import get_operation_setup, get_taxonomy

logger = logging.getLogger(__name__)

#: The safeguarding label of a training example for a cleared case.
NOT_SENSITIVE = "none"


class ProtectionError(ValueError):
    """A protection action the case or the user does not allow; the text is a stable key."""


def sensitivity_categories() -> dict[str, str]:
    """Slug -> name of the configured safeguarding categories, in the taxonomy's order."""
    return {slug: cat.name for slug, cat in get_taxonomy().sensitivity.items()}


def _check_category(category: str) -> str:
    if category not in sensitivity_categories():
        raise ProtectionError("unknown category")
    return category


def _reroute(case: Case) -> None:
    from mcof_comms.cases.services import route_case

    try:
        setup = get_operation_setup(case.operation_id)
    except LookupError:  # the operation was closed: keep the team
        return
    route_case(case, setup, get_taxonomy())


def _set_messages(case: Case, category: str | None) -> None:
    """The case's inbound messages carry its sensitivity, so the message lists, the API and
    exports hide or show them with the case."""
    db.session.execute(
        update(Message)
        .where(Message.case_id == case.id, Message.direction == "in")
        .values(sensitive_category=category)
        .execution_options(synchronize_session="fetch")
    )


def _record(case: Case, actor: User, kind: str, **detail: object) -> None:
    db.session.add(CaseEvent(case_id=case.id, actor_id=actor.id, kind=kind, detail=detail))
    audit.record(actor, f"case.{kind}", "case", case.id, **detail)


def _train(case: Case, actor: User, sensitive: str, source: str) -> None:
    from mcof_comms.pipeline.training import record_correction

    for message in db.session.scalars(
        select(Message).where(Message.case_id == case.id, Message.direction == "in")
    ):
        record_correction(
            message,
            actor=actor,
            sectors=[case.sector] if case.sector else [],
            feedback_type=case.feedback_type.value,
            urgency=case.urgency.value,
            sensitive=sensitive,
            source=source,
        )


def mark_sensitive(case: Case, actor: User, category: str) -> None:
    """Any case worker who can see a case may mark it sensitive: it goes to the protection
    queue, awaiting review, and out of everyone else's sight at once. One-way."""
    _check_category(category)
    if case.sensitive_category is not None:
        raise ProtectionError("already sensitive")
    case.sensitive_category = category
    case.protection_status = ProtectionStatus.PENDING
    case.protection_reviewed_at = None
    _set_messages(case, category)
    _reroute(case)
    _record(case, actor, "mark_sensitive", category=category, team_id=case.team_id)
    _train(case, actor, category, "mark_sensitive")
    db.session.flush()
    logger.info("case %s marked sensitive by user %s", case.id, actor.id)


def _require_protection(case: Case, actor: User) -> None:
    if not can_see_sensitive(actor.role):
        raise ProtectionError("protection only")
    if case.sensitive_category is None:
        raise ProtectionError("not sensitive")


def confirm_sensitive(case: Case, actor: User, category: str | None = None) -> None:
    """A protection focal point confirms the case is sensitive, as ``category`` if given."""
    _require_protection(case, actor)
    before = case.sensitive_category
    after = _check_category(category) if category else before
    case.sensitive_category = after
    case.protection_status = ProtectionStatus.CONFIRMED
    case.protection_reviewed_at = utcnow()
    if after != before:
        _set_messages(case, after)
    _record(case, actor, "protection_confirm", before=before, after=after)
    assert after is not None  # noqa: S101 - the case was sensitive
    _train(case, actor, after, "protection")
    db.session.flush()


def clear_sensitive(case: Case, actor: User) -> None:
    """A protection focal point clears the case: it goes to the sector team triage chose and is
    an ordinary case from then on."""
    _require_protection(case, actor)
    before = case.sensitive_category
    case.sensitive_category = None
    case.protection_status = ProtectionStatus.CLEARED
    case.protection_reviewed_at = utcnow()
    _set_messages(case, None)
    _reroute(case)
    _record(case, actor, "protection_clear", before=before, team_id=case.team_id)
    _train(case, actor, NOT_SENSITIVE, "protection")
    db.session.flush()
