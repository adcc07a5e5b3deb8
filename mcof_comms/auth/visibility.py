"""Which messages and contacts a user may see, as SQL: one rule for the API, the console's
message list and the simulator.

Cases have theirs in :func:`mcof_comms.console.services.visible_cases_clause` (and its Python
twin :func:`mcof_comms.auth.permissions.can_view_case`); a message of a case is visible with its
case. A message outside any case (a keyword, a confirmation, a broadcast, a reply sent without a
case) follows the rule that governs its contact's cases: once a person has a sensitive case,
their case-less messages are for protection staff (and admins) only.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy import ColumnElement, select

from mcof_comms import audit
from mcof_comms.extensions import db
from mcof_comms.models import Case, Message, MessageStatus, Role, User


def _scope_clause(user: User, column: sa.ColumnElement[int | None]) -> ColumnElement[bool]:
    from mcof_comms.console.services import operation_scope

    scope = operation_scope(user)
    return sa.true() if scope is None else column.in_(scope)


def _contact_cases(contact_id: sa.ColumnElement[int], *where: ColumnElement[bool]) -> sa.Exists:
    """EXISTS a case of this contact matching ``where`` (Case never correlates outward)."""
    return (
        select(Case.id).where(Case.contact_id == contact_id, *where).correlate_except(Case).exists()
    )


def caseless_messages_clause(user: User) -> ColumnElement[bool]:
    """Messages outside any case that ``user`` may see, within their operations.

    Admins: all. Coordinators: triaged ones without a sensitive label, of people who never had a
    sensitive case. Protection focal points: triaged ones of people with a sensitive case they
    may open. Nobody else. A message waiting for triage could be an abuse report: admins only.
    """
    from mcof_comms.console.services import visible_cases_clause

    scoped = _scope_clause(user, Message.operation_id)
    triaged = Message.status != MessageStatus.RECEIVED
    if user.role is Role.ADMIN:
        rule: ColumnElement[bool] = sa.true()
    elif user.role is Role.COORDINATOR:
        rule = sa.and_(
            triaged,
            Message.sensitive_category.is_(None),
            ~_contact_cases(Message.contact_id, Case.sensitive_category.is_not(None)),
        )
    elif user.role is Role.PROTECTION_FOCAL_POINT:
        rule = sa.and_(triaged, _contact_cases(Message.contact_id, visible_cases_clause(user)))
    else:
        return sa.false()
    return sa.and_(Message.case_id.is_(None), scoped, rule)


def messages_clause(user: User) -> ColumnElement[bool]:
    """Messages ``user`` may see; the query must outer-join ``Case`` on ``Message.case_id``."""
    from mcof_comms.console.services import visible_cases_clause

    in_case = sa.and_(Message.case_id.is_not(None), visible_cases_clause(user))
    return sa.or_(in_case, caseless_messages_clause(user))


def visible_messages(user: User) -> sa.Select[tuple[Message]]:
    """Messages the reader may see (see :func:`messages_clause`)."""
    return select(Message).outerjoin(Case, Case.id == Message.case_id).where(messages_clause(user))


def may_view_contact(user: User, contact_id: int) -> bool:
    """A contact of the user's operations: admins any; others one with a case they may open;
    coordinators also one who never had a sensitive case."""
    from mcof_comms.console.services import operation_scope, visible_cases_clause

    contact = sa.literal(contact_id)
    scope = operation_scope(user)
    in_scope: ColumnElement[bool] = (
        sa.true()
        if scope is None
        else sa.or_(
            select(Message.id)
            .where(Message.contact_id == contact, Message.operation_id.in_(scope))
            .exists(),
            _contact_cases(contact, Case.operation_id.in_(scope)),
        )
    )
    if user.role is Role.ADMIN:
        return bool(db.session.scalar(select(in_scope)))
    if db.session.scalar(select(_contact_cases(contact, visible_cases_clause(user)))):
        return True
    if user.role is Role.COORDINATOR:
        never_sensitive = ~_contact_cases(contact, Case.sensitive_category.is_not(None))
        return bool(db.session.scalar(select(sa.and_(in_scope, never_sensitive))))
    return False


def audit_message_reads(user: User, messages: Iterable[Message], *, via: str) -> None:
    """Audit what a response showed: one entry per sensitive case among ``messages``, and one
    per sensitive message outside any case. Only readers of sensitive words are audited: the
    others get those messages redacted or not at all."""
    from mcof_comms.auth.permissions import can_see_sensitive

    if not can_see_sensitive(user.role):
        return
    shown = list(messages)
    audit.record_sensitive_reads(user, (m.case_id for m in shown), via=via)
    for message in shown:
        if message.case_id is None and message.sensitive_category is not None:
            audit.record(user, "view_sensitive_message", "message", message.id, via=via)
