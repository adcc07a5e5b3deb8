"""Which operations a staff member works in: roles are scoped to operations.

A user works in the operations of their memberships, in the role the user has: the console and
the API show them only the cases, contacts, dashboards, exports and broadcasts of those
operations. Working across every operation is an explicit grant, a membership with
``all_operations`` set and no operation; a user with no membership works in none (fails
closed).
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mcof_comms.db import Base, TimestampMixin, partial_index


class Membership(TimestampMixin, Base):
    __tablename__ = "membership"
    __table_args__ = (
        UniqueConstraint("user_id", "operation_id"),
        # one operation, or the explicit grant of all of them: never both, never neither
        CheckConstraint(
            "(operation_id IS NULL) = all_operations", name="operation_or_all_operations"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("operation.id", ondelete="CASCADE"))
    all_operations: Mapped[bool] = mapped_column(default=False, server_default="false")


# --- console indexes on tables other areas own (defined here so their model files stay theirs;
# move them into case.py / message.py whenever convenient, the migration stays the same) ---

from sqlalchemy import Index, text  # noqa: E402

from mcof_comms.models.case import Case  # noqa: E402
from mcof_comms.models.message import Message  # noqa: E402

#: The inbox's default view: open cases, most urgent first, then oldest (keyset order).
partial_index(
    "ix_case_open_queue", Case.urgency_rank, Case.created_at, Case.id, where="status <> 'closed'"
)
#: Free-text search of the inbox (``ILIKE '%words%'``) with trigrams on PostgreSQL, over triaged
#: messages only: a message enters it when triage files it in a case, in the worker, so the
#: webhook's insert never pays for a GIN update. SQLite (the quick start) gets an empty partial
#: index of the same name, so both dialects match the models.
Index(
    "ix_message_body_trgm",
    Message.body,
    postgresql_using="gin",
    postgresql_ops={"body": "gin_trgm_ops"},
    postgresql_where=text("case_id IS NOT NULL"),
    sqlite_where=text("0"),
)
