"""Creating users, checking and changing passwords (argon2), and ending a user's access."""

from __future__ import annotations

import contextlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update

from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import ApiToken, Role, User

_hasher = PasswordHasher()
_dummy_hash: list[str] = []

MIN_PASSWORD_LENGTH = 8


class UserError(ValueError):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def dummy_check(password: str) -> None:
    """Spend what a real check spends, for an unknown email: the timing must not tell."""
    if not _dummy_hash:
        _dummy_hash.append(_hasher.hash("not-a-password-of-anyone"))
    with contextlib.suppress(VerificationError, InvalidHashError):
        _hasher.verify(_dummy_hash[0], password)


def get_user_by_email(email: str) -> User | None:
    return db.session.scalars(
        select(User).where(func.lower(User.email) == email.strip().lower())
    ).one_or_none()


def _check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")


def create_user(
    email: str,
    password: str,
    role: Role,
    *,
    name: str | None = None,
    sectors: list[str] | None = None,
) -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise UserError("email must be an email address")
    _check_new_password(password)
    if get_user_by_email(email) is not None:
        raise UserError(f"a user with email {email} already exists")
    if role is Role.SECTOR_FOCAL_POINT and not sectors:
        raise UserError("a sector focal point needs --sectors")
    user = User(
        email=email,
        password_hash=hash_password(password),
        role=role,
        name=name,
        sectors=sorted(set(sectors or [])),
    )
    db.session.add(user)
    db.session.flush()
    return user


def end_all_sessions(user: User) -> None:
    """Invalidate every console session of ``user`` (each carries the old version)."""
    user.session_version = (user.session_version or 0) + 1


def set_password(user: User, password: str) -> None:
    """Change or reset a password; every session made with the old one ends."""
    _check_new_password(password)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    end_all_sessions(user)
    db.session.flush()


def deactivate_user(user: User) -> None:
    """No more sign-in, sessions or tokens; the row stays for the audit log and history."""
    user.active = False
    end_all_sessions(user)
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    db.session.flush()


def activate_user(user: User) -> None:
    """Allow sign-in again; revoked tokens stay revoked."""
    user.active = True
    db.session.flush()
