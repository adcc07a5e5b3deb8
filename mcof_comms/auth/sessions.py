"""Console sessions that the server can end, with idle and absolute timeouts.

Flask keeps the session in a signed cookie, so a copied cookie would otherwise work until it
expires whatever the user did. Each session therefore carries:

- ``sv``: the user's ``session_version`` at sign-in; bumping the column (sign out everywhere, a
  password change or reset, deactivation) ends every session of that user, checked in the
  database on each request;
- ``sid``: a random id; signing out puts it on a deny list in Redis until the session could
  have expired anyway, so that one cookie is dead even if it was copied;
- ``auth_at`` and ``seen_at``: sign-in and last-request times, for the absolute
  (``SESSION_MAX_HOURS``) and idle (``SESSION_IDLE_MINUTES``) limits.

If Redis cannot be asked, a signed-out cookie is not refused (logged): the version and both
timeouts still hold, and a Redis outage must not sign every responder out.
"""

from __future__ import annotations

import logging
import secrets
import time

import redis
from flask import current_app, session
from flask_login import login_user, logout_user

from config import Settings
from mcof_comms.db import utcnow
from mcof_comms.jobs import get_backend
from mcof_comms.models import User

logger = logging.getLogger(__name__)

#: ``seen_at`` is rewritten at most this often, so the cookie is not re-set on every request.
SEEN_RESOLUTION_SECONDS = 60


def _settings() -> Settings:
    settings: Settings = current_app.extensions["mcof_settings"]
    return settings


def _ended_key(sid: str) -> str:
    return f"{get_backend().prefix}:session-ended:{sid}"


def start_session(user: User) -> None:
    """Sign ``user`` in on a fresh session (no state survives from before sign-in)."""
    session.clear()
    login_user(user)
    now = int(time.time())
    session["sv"] = user.session_version
    session["sid"] = secrets.token_urlsafe(18)
    session["auth_at"] = now
    session["seen_at"] = now
    user.last_login_at = utcnow()


def end_session() -> None:
    """Sign out of this session, and refuse its cookie from now on."""
    sid = session.get("sid")
    if isinstance(sid, str):
        try:
            get_backend().connection.set(
                _ended_key(sid), 1, ex=_settings().session_max_hours * 3600 + 60
            )
        except redis.RedisError:
            logger.warning("could not record a sign-out in Redis; the session version still holds")
    logout_user()
    session.clear()


def session_is_valid(user: User) -> bool:
    """Check the current session for ``user``; an invalid one is cleared."""
    settings = _settings()
    now = int(time.time())
    auth_at, seen_at, sid = session.get("auth_at"), session.get("seen_at"), session.get("sid")
    valid = (
        session.get("sv") == user.session_version
        and isinstance(auth_at, int)
        and isinstance(seen_at, int)
        and isinstance(sid, str)
        and now - auth_at <= settings.session_max_hours * 3600
        and now - seen_at <= settings.session_idle_minutes * 60
        and not _was_ended(sid)
    )
    if not valid:
        session.clear()
        return False
    if now - int(seen_at) >= SEEN_RESOLUTION_SECONDS:  # type: ignore[arg-type]
        session["seen_at"] = now
    return True


def _was_ended(sid: str) -> bool:
    try:
        return bool(get_backend().connection.exists(_ended_key(sid)))
    except redis.RedisError:
        logger.warning("could not check the sign-out list in Redis; session version still holds")
        return False
