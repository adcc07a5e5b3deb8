"""Console sign-in: Flask-Login's user loader and a password check that tells no email apart.

Every attempt that reaches :func:`authenticate` costs exactly one argon2 operation, whether the
email exists, the account is inactive or the password is wrong, so neither the answer nor its
timing says which emails have accounts. Throttling (:mod:`mcof_comms.auth.throttle`) happens
before, and session checks (:mod:`mcof_comms.auth.sessions`) after.
"""

from __future__ import annotations

from flask import Flask

from mcof_comms.auth.users import check_password, dummy_check, get_user_by_email
from mcof_comms.extensions import db, login
from mcof_comms.models import User


def init_login(app: Flask) -> None:
    """Wire Flask-Login to our users; anonymous visitors are sent to the sign-in page."""
    login.login_view = "console.login"
    login.session_protection = "strong"
    login.login_message = None  # type: ignore[assignment]


@login.user_loader
def load_user(user_id: str) -> User | None:
    """The signed-in user, if the session is still valid (version, idle and absolute limits)."""
    from mcof_comms.auth.sessions import session_is_valid

    if not user_id.isascii() or not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or not session_is_valid(user):
        return None
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, else None. Writes nothing."""
    user = get_user_by_email(email)
    if user is None:
        dummy_check(password)
        return None
    if not check_password(user, password) or not user.active:
        return None
    from mcof_comms.demo import refused_login

    if refused_login(user):  # a published demo password never opens a production console
        return None
    return user
