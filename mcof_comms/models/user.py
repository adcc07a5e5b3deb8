"""Staff who use the console and the API, and their API tokens."""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mcof_comms.db import Base, TimestampMixin, enum_column
from mcof_comms.models.message import JSONType


class Role(enum.StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    SECTOR_FOCAL_POINT = "sector_focal_point"
    PROTECTION_FOCAL_POINT = "protection_focal_point"
    RESPONDER = "responder"
    VIEWER = "viewer"


class User(UserMixin, TimestampMixin, Base):
    """A member of staff.

    ``session_version`` is copied into each console session at sign-in and compared on every
    request: bumping it (sign out everywhere, a password change or reset, deactivation) ends
    every session of the user at once, however the cookie was kept. The TOTP secret is the
    second factor; ``totp_last_step`` refuses a code that was already used.
    """

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    sectors: Mapped[list[str]] = mapped_column(JSONType, default=list)  # sector focal points
    locale: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None]
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    password_changed_at: Mapped[datetime | None]
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "email": self.email, "role": self.role.value}


class ApiToken(TimestampMixin, Base):
    """A bearer token; only its SHA-256 is stored, the token itself is shown once.

    A token expires (``expires_at``) and may act with a narrower ``role`` than its user's, or
    only read (``read_only``): a script that only reads cases should not be able to send.
    """

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]  # None only on rows older than expiry: refused
    role: Mapped[Role | None] = mapped_column(enum_column(Role, "token_role"))
    read_only: Mapped[bool] = mapped_column(default=False, server_default="false")

    user: Mapped[User] = relationship(lazy="joined")

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()
