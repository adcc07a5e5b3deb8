"""API bearer tokens: created once, stored hashed, checked on each request."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from flask import abort, g, request
from sqlalchemy import select

from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import ApiToken, Role, User


def create_token(user: User, name: str | None = None) -> str:
    """Return a new token for ``user``; only its hash is kept."""
    token = "mcof_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=ApiToken.hash(token), name=name))
    return token


def user_for_token(token: str) -> User | None:
    found = db.session.scalars(
        select(ApiToken).where(ApiToken.token_hash == ApiToken.hash(token))
    ).one_or_none()
    if found is None or found.revoked_at is not None or not found.user.active:
        return None
    found.last_used_at = utcnow()
    return found.user


def require_token(roles: Iterable[Role] | None = None) -> Callable[..., Any]:
    """401 without a valid bearer token; 403 when the token's role is not in ``roles``."""
    allowed = frozenset(roles) if roles is not None else None

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                abort(401, description="a bearer token is required")
            user = user_for_token(token.strip())
            if user is None:
                abort(401, description="the token is not valid")
            if allowed is not None and user.role not in allowed:
                abort(403, description="this role may not use this endpoint")
            g.api_user = user
            return view(*args, **kwargs)

        return wrapped

    return decorator
