"""Operations (one crisis response each), their numbers, teams and active sectors."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mcof_comms.db import Base, TimestampMixin, enum_column
from mcof_comms.models.message import JSONType


class Phase(enum.StrEnum):
    PRE_CRISIS = "pre_crisis"
    EMERGENCY = "emergency"
    POST_CRISIS = "post_crisis"


class CategoryKind(enum.StrEnum):
    SECTOR = "sector"  # one of the 15 MCOF sectors of assistance
    REFERRAL = "referral"  # a need outside IOM's sectors, referred to a partner or cluster


class Operation(TimestampMixin, Base):
    """One crisis response. The default operation takes every number no other one claims."""

    __tablename__ = "operation"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    country: Mapped[str | None] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    areas: Mapped[list[str]] = mapped_column(JSONType, default=list)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    phase: Mapped[Phase] = mapped_column(enum_column(Phase, "phase"), default=Phase.EMERGENCY)
    languages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    default_language: Mapped[str] = mapped_column(String(16), default="en")
    is_default: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    addresses: Mapped[list[OperationAddress]] = relationship(
        back_populates="operation", cascade="all, delete-orphan"
    )
    teams: Mapped[list[Team]] = relationship(back_populates="operation", cascade="all")
    sectors: Mapped[list[OperationSector]] = relationship(
        back_populates="operation", cascade="all, delete-orphan"
    )


class OperationAddress(Base):
    """A number, WhatsApp sender or Messaging Service (Twilio ``To``) an operation answers on."""

    __tablename__ = "operation_address"

    id: Mapped[int] = mapped_column(primary_key=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("operation.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(64), unique=True)

    operation: Mapped[Operation] = relationship(back_populates="addresses")


class Team(TimestampMixin, Base):
    """People who act on cases: a sector team, protection focal points, the referral desk."""

    __tablename__ = "team"
    __table_args__ = (UniqueConstraint("operation_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("operation.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32), default="sector")  # sector|protection|referral

    operation: Mapped[Operation] = relationship(back_populates="teams")


class OperationSector(Base):
    """A sector or referral category as one operation runs it: active or not, priority, team."""

    __tablename__ = "operation_sector"
    __table_args__ = (UniqueConstraint("operation_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("operation.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(64))
    kind: Mapped[CategoryKind] = mapped_column(enum_column(CategoryKind, "category_kind"))
    active: Mapped[bool] = mapped_column(default=True)
    priority: Mapped[int] = mapped_column(default=0)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    partner: Mapped[str | None] = mapped_column(String(255))  # referral partner or cluster

    operation: Mapped[Operation] = relationship(back_populates="sectors")
    team: Mapped[Team | None] = relationship()
