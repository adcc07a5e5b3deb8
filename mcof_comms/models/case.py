"""Cases: one contact's feedback on one topic, from the first message until it is closed."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mcof_comms.db import Base, TimestampMixin, enum_column, partial_index, utcnow
from mcof_comms.models.contact import Contact
from mcof_comms.models.message import JSONType
from mcof_comms.models.operation import Operation, Team
from mcof_comms.models.triage import URGENCY_RANK, FeedbackType, Urgency


class CaseStatus(enum.StrEnum):
    """new -> in_progress -> referred -> resolved -> closed (and reopened to in_progress)."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    REFERRED = "referred"
    RESOLVED = "resolved"
    CLOSED = "closed"


class ProtectionStatus(enum.StrEnum):
    """Where a sensitive case is in the protection review (``Case.protection_status``)."""

    PENDING = "pending"  # awaiting protection review: flagged by triage or marked by staff
    CONFIRMED = "confirmed"  # a protection focal point confirmed it (maybe another category)
    CLEARED = "cleared"  # a protection focal point cleared it: released to the sector team


OPEN_STATUSES = (CaseStatus.NEW, CaseStatus.IN_PROGRESS, CaseStatus.REFERRED, CaseStatus.RESOLVED)


class Case(TimestampMixin, Base):
    __tablename__ = "feedback_case"
    __table_args__ = (
        # "a new message from the same contact on the same sector joins the open case"
        partial_index(
            "ix_case_open_contact_sector", "contact_id", "sector", where="status <> 'closed'"
        ),
        # the inbox: open cases by urgency then age
        Index("ix_case_inbox", "operation_id", "status", "urgency_rank", "created_at"),
        Index("ix_case_team", "team_id", "status"),
        # the console's alert bar: life-threatening alerts nobody has acknowledged yet
        partial_index(
            "ix_case_life_alert_open",
            "operation_id",
            where="life_alert_at IS NOT NULL AND life_alert_acknowledged_at IS NULL",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("operation.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    sector: Mapped[str | None] = mapped_column(String(64))  # sector or referral slug
    # every label triage gave, [{slug, confidence}], best first; ``sector`` is the first
    sectors: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONType, default=list, server_default="[]"
    )
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[CaseStatus] = mapped_column(
        enum_column(CaseStatus, "case_status"), default=CaseStatus.NEW
    )
    feedback_type: Mapped[FeedbackType] = mapped_column(
        enum_column(FeedbackType, "feedback_type"), default=FeedbackType.OTHER
    )
    urgency: Mapped[Urgency] = mapped_column(
        enum_column(Urgency, "urgency"), default=Urgency.NORMAL
    )
    urgency_rank: Mapped[int] = mapped_column(default=2)
    sensitive_category: Mapped[str | None] = mapped_column(String(64))  # None: not sensitive
    # a sensitive case: pending (awaiting protection review) -> confirmed; clearing a case sets
    # "cleared" and releases it (sensitive_category None). None: never sensitive
    protection_status: Mapped[str | None] = mapped_column(String(16))
    protection_reviewed_at: Mapped[datetime | None]
    needs_review: Mapped[bool] = mapped_column(default=False)
    referral_partner: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(16))
    summary: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None]  # SLA
    acknowledged_at: Mapped[datetime | None]
    alerted_at: Mapped[datetime | None]  # life-threatening: raised an alert
    # life-threatening: one alert per case (console and on-call page), escalated to the second
    # on-call number when nobody acknowledges it in time
    life_alert_at: Mapped[datetime | None]
    life_alert_acknowledged_at: Mapped[datetime | None]
    life_alert_acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    life_alert_escalated_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closure_reason: Mapped[str | None] = mapped_column(Text)  # when no response was needed
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    operation: Mapped[Operation] = relationship()
    contact: Mapped[Contact] = relationship()
    team: Mapped[Team | None] = relationship()

    def set_urgency(self, urgency: Urgency) -> None:
        self.urgency = urgency
        self.urgency_rank = URGENCY_RANK[urgency]

    @property
    def is_open(self) -> bool:
        return self.status is not CaseStatus.CLOSED

    @property
    def awaiting_protection_review(self) -> bool:
        return self.sensitive_category is not None and self.protection_status in (
            None,
            ProtectionStatus.PENDING,
        )

    @property
    def life_alert_open(self) -> bool:
        """A life-threatening alert was raised and nobody has acknowledged it yet."""
        return self.life_alert_at is not None and self.life_alert_acknowledged_at is None


class CaseEvent(Base):
    """What happened to a case and who did it: status changes, relabels, referrals, notes."""

    __tablename__ = "case_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("feedback_case.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(32))  # status|relabel|assign|refer|note|triage
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
