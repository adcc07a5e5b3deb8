"""Who a broadcast reaches: one query, read in keyset batches so memory stays flat.

The audience is a dict (see README, "Broadcast API"): languages, channels, areas, sectors
(case history), last seen within N days, tags, explicit contacts. Always excluded: contacts
opted out on every allowed channel; by default also contacts with an open sensitive case
(``include_sensitive``: true lifts that). A contact belongs to an operation when one of their
messages or cases does; the default operation also takes contacts no operation has claimed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import and_, exists, false, or_, select, true

from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import (
    Case,
    CaseStatus,
    Channel,
    Contact,
    ContactChannel,
    Message,
    Operation,
)

AUDIENCE_KEYS = frozenset(
    {
        "languages",
        "channels",
        "areas",
        "sectors",
        "last_seen_days",
        "tags",
        "contacts",
        "include_sensitive",
    }
)
BATCH = 1000


class AudienceError(ValueError):
    """The audience dict is malformed; the message names the key."""


@dataclass(frozen=True)
class Recipient:
    contact_id: int
    language: str | None
    channel: Channel
    address: str
    last_inbound_at: datetime | None
    has_sms: bool  # an SMS address without opt-out: the WhatsApp window fallback


def validate_audience(audience: Mapping[str, Any]) -> dict[str, Any]:
    """Check and normalise an audience dict; raise AudienceError naming the bad key."""
    unknown = set(audience) - AUDIENCE_KEYS
    if unknown:
        raise AudienceError(f"unknown audience keys: {', '.join(sorted(unknown))}")
    clean: dict[str, Any] = {}
    for key in ("languages", "areas", "sectors", "tags"):
        if key in audience and audience[key] is not None:
            values = audience[key]
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise AudienceError(f"{key} must be a list of strings")
            clean[key] = values
    if audience.get("channels") is not None:
        try:
            clean["channels"] = [Channel(c).value for c in audience["channels"]]
        except (ValueError, TypeError) as exc:
            raise AudienceError("channels must be a list of 'sms' and 'whatsapp'") from exc
    if audience.get("last_seen_days") is not None:
        days = audience["last_seen_days"]
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise AudienceError("last_seen_days must be a positive whole number")
        clean["last_seen_days"] = days
    if audience.get("contacts") is not None:
        ids = audience["contacts"]
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise AudienceError("contacts must be a list of contact ids")
        clean["contacts"] = ids
    if "include_sensitive" in audience:
        if not isinstance(audience["include_sensitive"], bool):
            raise AudienceError("include_sensitive must be true or false")
        clean["include_sensitive"] = audience["include_sensitive"]
    return clean


def _channels(audience: Mapping[str, Any]) -> list[str]:
    return list(audience.get("channels") or [c.value for c in Channel])


def _usable_channel(audience: Mapping[str, Any]) -> sa.ColumnElement[bool]:
    """The contact has an allowed channel they have not opted out of."""
    cc = ContactChannel
    not_opted_out = or_(
        cc.opted_out_at.is_(None),
        and_(cc.opted_in_at.is_not(None), cc.opted_in_at >= cc.opted_out_at),
    )
    return exists().where(
        cc.contact_id == Contact.id, cc.channel.in_(_channels(audience)), not_opted_out
    )


def _in_operation(operation: Operation) -> sa.ColumnElement[bool]:
    by_message = exists().where(
        Message.contact_id == Contact.id, Message.operation_id == operation.id
    )
    by_case = exists().where(Case.contact_id == Contact.id, Case.operation_id == operation.id)
    if not operation.is_default:
        return or_(by_message, by_case)
    unclaimed = and_(
        ~exists().where(Message.contact_id == Contact.id, Message.operation_id.is_not(None)),
        ~exists().where(Case.contact_id == Contact.id),
    )
    return or_(by_message, by_case, unclaimed)


def _tags(tags: list[str]) -> sa.ColumnElement[bool]:
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY, JSONB

        column = sa.cast(Contact.tags, JSONB)
        return column.op("?|", is_comparison=True)(sa.cast(sa.literal(tags), ARRAY(sa.String)))
    each = sa.func.json_each(Contact.tags).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value.in_(tags)))


#: Addresses of the console's simulator and of demo data: pretend people, never an audience.
SIMULATED_ADDRESS = "sim:%"


def _simulated() -> sa.ColumnElement[bool]:
    cc = ContactChannel
    return exists().where(cc.contact_id == Contact.id, cc.address.like(SIMULATED_ADDRESS))


def hides_exclusions(audience: Mapping[str, Any]) -> bool:
    """An audience naming its contacts is counted and previewed before the opt-out and
    sensitive-case exclusions, which apply only when sending: otherwise the count for one
    contact would tell whether that person opted out or has an open sensitive case."""
    return audience.get("contacts") is not None


def audience_filter(
    audience: Mapping[str, Any],
    operation: Operation,
    now: datetime | None = None,
    *,
    exclusions: bool = True,
) -> sa.ColumnElement[bool]:
    """The WHERE clause on ``contact`` for this audience; ``exclusions=False`` leaves out the
    opt-out and open-sensitive-case exclusions (see :func:`hides_exclusions`)."""
    now = now or utcnow()
    from mcof_comms.cases.alerts import STAFF_TAG

    clauses: list[sa.ColumnElement[bool]] = [
        _in_operation(operation),
        # on-call staff are paged through a contact row: never broadcast to them
        or_(Contact.tags.is_(None), ~_tags([STAFF_TAG])),
        ~_simulated(),
    ]
    if exclusions:
        clauses.append(_usable_channel(audience))
    if languages := audience.get("languages"):
        with_default = (
            Contact.language.is_(None) if operation.default_language in languages else false()
        )
        clauses.append(or_(Contact.language.in_(languages), with_default))
    if areas := audience.get("areas"):
        clauses.append(Contact.area.in_(areas))
    if sectors := audience.get("sectors"):
        clauses.append(
            exists().where(
                Case.contact_id == Contact.id,
                Case.operation_id == operation.id,
                Case.sector.in_(sectors),
                # case history is a reason to write to someone, never a sensitive case's
                Case.sensitive_category.is_(None),
            )
        )
    if days := audience.get("last_seen_days"):
        clauses.append(Contact.last_seen_at >= now - timedelta(days=days))
    if tags := audience.get("tags"):
        clauses.append(_tags(tags))
    if (contacts := audience.get("contacts")) is not None:
        clauses.append(Contact.id.in_(contacts) if contacts else false())
    if exclusions and not audience.get("include_sensitive", False):
        clauses.append(
            ~exists().where(
                Case.contact_id == Contact.id,
                Case.status != CaseStatus.CLOSED,
                Case.sensitive_category.is_not(None),
            )
        )
    return and_(true(), *clauses)


def iter_recipients(
    audience: Mapping[str, Any],
    operation: Operation,
    *,
    after_contact_id: int = 0,
    batch: int = BATCH,
    exclusions: bool = True,
) -> Iterator[list[Recipient]]:
    """Yield recipients in batches ordered by contact id, starting after ``after_contact_id``.

    Each contact gets the allowed, not opted-out channel they last wrote on. ``exclusions=False``
    is for previews only (see :func:`hides_exclusions`): consent is not looked at.
    """
    where = audience_filter(audience, operation, exclusions=exclusions)
    allowed = {Channel(c) for c in _channels(audience)}
    after = after_contact_id
    while True:
        contacts = db.session.execute(
            select(Contact.id, Contact.language)
            .where(where, Contact.id > after)
            .order_by(Contact.id)
            .limit(batch)
        ).all()
        if not contacts:
            return
        after = contacts[-1].id
        languages = {c.id: c.language for c in contacts}
        options: dict[int, list[Any]] = {}
        for row in db.session.execute(
            select(
                ContactChannel.contact_id,
                ContactChannel.channel,
                ContactChannel.address,
                ContactChannel.last_inbound_at,
                ContactChannel.opted_out_at,
                ContactChannel.opted_in_at,
            ).where(ContactChannel.contact_id.in_(languages))
        ):
            opted_out = row.opted_out_at is not None and (
                row.opted_in_at is None or row.opted_in_at < row.opted_out_at
            )
            if not opted_out or not exclusions:
                options.setdefault(row.contact_id, []).append(row)
        recipients = []
        for contact_id, language in languages.items():
            usable = options.get(contact_id, [])
            has_sms = any(Channel(r.channel) is Channel.SMS for r in usable)
            allowed_rows = [r for r in usable if Channel(r.channel) in allowed]
            if not allowed_rows:
                continue
            best = max(
                allowed_rows,
                key=lambda r: (r.last_inbound_at is not None, r.last_inbound_at),
            )
            recipients.append(
                Recipient(
                    contact_id=contact_id,
                    language=language,
                    channel=Channel(best.channel),
                    address=best.address,
                    last_inbound_at=best.last_inbound_at,
                    has_sms=has_sms,
                )
            )
        yield recipients
        db.session.expire_all()
