"""Console sign-in: Flask-Login's user loader, argon2 checks, and a lockout after failures."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask

from mcof_comms.auth.users import check_password, get_user_by_email
from mcof_comms.db import utcnow
from mcof_comms.extensions import db, login
from mcof_comms.models import User

logger = logging.getLogger(__name__)

#: Failed attempts in a row before the account is locked, and for how long.
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)

_dummy: list[User] = []


def _dummy_user() -> User:
    """A user to verify against when the email is unknown, so timing does not tell emails apart."""
    if not _dummy:
        from mcof_comms.auth.users import hash_password

        _dummy.append(User(email="", password_hash=hash_password("not-a-password")))
    return _dummy[0]


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    locked: bool = False


def init_login(app: Flask) -> None:
    """Wire Flask-Login to our users; anonymous visitors are sent to the sign-in page."""
    login.login_view = "console.login"
    login.session_protection = "strong"
    login.login_message = None  # type: ignore[assignment]


@login.user_loader
def load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active:
        return None
    return user


def authenticate(email: str, password: str) -> LoginResult:
    """Check a password; count failures and lock the account after too many. Flushes, no commit."""
    user = get_user_by_email(email)
    if user is None:
        check_password(_dummy_user(), password)
        return LoginResult(None)
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        return LoginResult(None, locked=True)
    if not user.active or not check_password(user, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            logger.warning("user %s locked after repeated failed sign-ins", user.id)
            db.session.flush()
            return LoginResult(None, locked=True)
        db.session.flush()
        return LoginResult(None)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    db.session.flush()
    return LoginResult(user)
