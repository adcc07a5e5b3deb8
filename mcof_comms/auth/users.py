"""Creating users and checking passwords (argon2)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from mcof_comms.extensions import db
from mcof_comms.models import Role, User

_hasher = PasswordHasher()


class UserError(ValueError):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def get_user_by_email(email: str) -> User | None:
    return db.session.scalars(
        select(User).where(func.lower(User.email) == email.strip().lower())
    ).one_or_none()


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
    if len(password) < 8:
        raise UserError("password must have at least 8 characters")
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
