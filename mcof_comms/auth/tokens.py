"""API bearer tokens: created once, stored hashed, checked on each request.

A token expires (90 days unless asked otherwise, a year at most), may act with a narrower role
than its user (:func:`mcof_comms.auth.permissions.token_roles`) and may be read-only. A token
stops working when it is revoked, expires, or its user is deactivated.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from flask import abort, g, request
from sqlalchemy import select

from mcof_comms.auth.permissions import token_roles
from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import ApiToken, Role, User

DEFAULT_DAYS = 90
MAX_DAYS = 365
#: Methods a read-only token may use.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TokenError(ValueError):
    pass


class TokenUser:
    """The user as seen through a token: the token's role when it is narrower, never more.

    Views and services read ``role`` (and ``id``, ``sectors``...) from the actor; every other
    attribute is the user's own.
    """

    def __init__(self, user: User, role: Role) -> None:
        self._user = user
        self.role = role

    def __getattr__(self, name: str) -> Any:
        return getattr(self._user, name)


def create_token(
    user: User,
    name: str | None = None,
    *,
    days: int = DEFAULT_DAYS,
    role: Role | None = None,
    read_only: bool = False,
) -> str:
    """Return a new token for ``user``; only its hash is kept. Adds, no flush."""
    if not 1 <= days <= MAX_DAYS:
        raise TokenError(f"a token lives between 1 and {MAX_DAYS} days")
    if role is not None and role not in token_roles(user.role):
        raise TokenError(f"a {user.role.value} cannot make a token acting as {role.value}")
    token = "mcof_" + secrets.token_urlsafe(32)
    db.session.add(
        ApiToken(
            user_id=user.id,
            token_hash=ApiToken.hash(token),
            name=name,
            expires_at=utcnow() + timedelta(days=days),
            role=None if role is user.role else role,
            read_only=read_only,
        )
    )
    return token


def is_usable(token: ApiToken) -> bool:
    return (
        token.revoked_at is None
        and token.expires_at is not None
        and token.expires_at > utcnow()
        and token.user.active
    )


def token_for(secret: str) -> ApiToken | None:
    """The usable token with this secret, marked as used; None otherwise."""
    found = db.session.scalars(
        select(ApiToken).where(ApiToken.token_hash == ApiToken.hash(secret))
    ).one_or_none()
    if found is None or not is_usable(found):
        return None
    found.last_used_at = utcnow()
    return found


def user_for_token(secret: str) -> User | None:
    found = token_for(secret)
    return found.user if found is not None else None


def acting_user(token: ApiToken) -> User | TokenUser:
    """Who the request acts as: the user, or the user under the token's narrower role."""
    if token.role is None or token.role is token.user.role:
        return token.user
    return TokenUser(token.user, token.role)


def list_tokens(user: User | None = None) -> list[ApiToken]:
    """Newest first; every user's when ``user`` is None."""
    query = select(ApiToken).order_by(ApiToken.id.desc())
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return list(db.session.scalars(query))


def revoke_token(token: ApiToken) -> bool:
    """Revoke; False when it was already revoked. Idempotent."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    return True


def require_token(roles: Iterable[Role] | None = None) -> Callable[..., Any]:
    """401 without a valid bearer token; 403 when the token's role is not in ``roles``, or
    for a read-only token on a method that writes."""
    allowed = frozenset(roles) if roles is not None else None

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            scheme, _, secret = header.partition(" ")
            if scheme.lower() != "bearer" or not secret.strip():
                abort(401, description="a bearer token is required")
            token = token_for(secret.strip())
            if token is None:
                abort(401, description="the token is not valid")
            user = acting_user(token)
            if allowed is not None and user.role not in allowed:
                abort(403, description="this role may not use this endpoint")
            if token.read_only and request.method not in READ_METHODS:
                abort(403, description="this token may only read")
            g.api_user = user
            g.api_token = token
            return view(*args, **kwargs)

        return wrapped

    return decorator
