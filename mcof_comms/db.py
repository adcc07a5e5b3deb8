"""Declarative base, column helpers and the one place that knows SQL dialects apart."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import DateTime, MetaData, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes everywhere; SQLite hands back naive values, so tag them UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime stored; use mcof_comms.db.utcnow()")
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    # type map on the registry: Flask-SQLAlchemy 3.1 rejects a per-base type_annotation_map
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


def enum_column(enum_cls: type[enum.Enum], name: str) -> sa.Enum:
    """A VARCHAR with a named CHECK constraint, so changing an enum is a plain migration."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


def partial_index(name: str, *columns: Any, where: str, unique: bool = False) -> sa.Index:
    """An index over the rows ``where`` holds, the same on PostgreSQL and SQLite."""
    return sa.Index(
        name, *columns, unique=unique, postgresql_where=sa.text(where), sqlite_where=sa.text(where)
    )


def among(column: Any, values: list[int], dialect: str) -> Any:
    """``column IN values``; on PostgreSQL one array parameter (``= ANY``), so the statement
    text does not change with the list's length and psycopg can keep it prepared."""
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam(None, values, type_=postgresql.ARRAY(sa.Integer)))
    return column.in_(values)


def insert_for(bind: sa.engine.Connection | sa.engine.Engine | Any, table: Any) -> Any:
    """An INSERT that supports ``on_conflict_do_nothing`` on both PostgreSQL and SQLite."""
    name = bind.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect: {name}")
