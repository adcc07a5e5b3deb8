"""The console: coordinators' inbox, case view, broadcasts, dashboard, exports and simulator."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, Response, abort, request
from flask_babel import get_locale
from flask_login import current_user, login_required

bp = Blueprint(
    "console",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/console/static",
)

#: No CDN, no inline script: the console runs offline and a stray body can never execute.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def require_roles(roles: Iterable[object]) -> Callable[..., Any]:
    """Sign-in required; 403 when the user's role is not in ``roles``."""
    allowed = frozenset(roles)

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


#: Browsers that reached us once over https keep to https for a year (production only).
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"


@bp.after_app_request
def _security_headers(response: Response) -> Response:
    """On every response of the app (console, API, webhooks, health), not only the console's."""
    from flask import current_app

    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if current_app.extensions["mcof_settings"].is_production:
        response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    if request.path.startswith("/api/") or (
        request.blueprint == "console" and getattr(current_user, "is_authenticated", False)
    ):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.app_context_processor
def _console_context() -> dict[str, Any]:
    from mcof_comms.auth import permissions as p
    from mcof_comms.console.forms import (
        FEEDBACK_TYPE_LABELS,
        STATUS_LABELS,
        URGENCY_LABELS,
        LocaleForm,
    )
    from mcof_comms.db import utcnow

    locale = get_locale()

    def console_alerts() -> list[Any]:
        """Open life-threatening alerts for the alert bar (one query, only when rendered)."""
        from mcof_comms.cases.alerts import open_alerts

        if not getattr(current_user, "is_authenticated", False):
            return []
        return open_alerts(current_user)

    return {
        "console_alerts": console_alerts,
        "type_labels": FEEDBACK_TYPE_LABELS,
        "urgency_labels": URGENCY_LABELS,
        "status_labels": STATUS_LABELS,
        "now": utcnow,
        "text_direction": locale.text_direction if locale else "ltr",
        "ui_locale": str(locale) if locale else "en",
        "locale_form": LocaleForm,
        "perm": p,
    }


@bp.record_once
def _setup(state: Any) -> None:
    from mcof_comms.auth.login import init_login
    from mcof_comms.console import filters

    init_login(state.app)
    filters.register(state.app)


from mcof_comms.console.views import (  # noqa: E402  (routes register on import)
    admin,
    alerts,
    auth,
    broadcasts,
    cases,
    dashboard,
    exports,
    inbox,
    operations,
    simulator,
)

__all__ = [
    "admin",
    "alerts",
    "auth",
    "bp",
    "broadcasts",
    "cases",
    "dashboard",
    "exports",
    "inbox",
    "operations",
    "require_roles",
    "simulator",
]
