"""Which operations a staff member works in: roles are scoped to operations.

A user with no membership works across every operation (one deployment, one response); once a
user has memberships, the console shows them only the cases, dashboards, exports and broadcasts
of those operations, in the role the user has.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mcof_comms.db import Base, TimestampMixin, partial_index


class Membership(TimestampMixin, Base):
    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("user_id", "operation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    operation_id: Mapped[int] = mapped_column(ForeignKey("operation.id", ondelete="CASCADE"))


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
