"""Sign in (password, then a TOTP code for the roles that need one), sign out, the UI
language, and the landing page for each role."""

from __future__ import annotations

import math
import time
from typing import Any
from urllib.parse import urlsplit

from flask import flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext, refresh
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from mcof_comms import audit
from mcof_comms.auth import throttle
from mcof_comms.auth.login import authenticate
from mcof_comms.auth.permissions import BROADCASTERS, CASE_WORKERS
from mcof_comms.auth.second_factor import (
    check_code,
    enrol,
    grouped,
    is_enrolled,
    new_secret,
    provisioning_uri,
    requires_second_factor,
)
from mcof_comms.auth.sessions import end_session, start_session
from mcof_comms.console import bp
from mcof_comms.console.account_forms import CodeForm
from mcof_comms.console.forms import EmptyForm, LocaleForm, LoginForm
from mcof_comms.extensions import db
from mcof_comms.i18n import UI_LOCALES
from mcof_comms.models import User


def _safe_next(target: str | None, default: str) -> str:
    """Only same-site paths: an open redirect would make phishing after sign-in easy."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:  # browsers read /\evil.example as //evil.example
        return default
    return target


def home_for(user: object) -> str:
    role = user.role  # type: ignore[attr-defined]
    if role in CASE_WORKERS:
        return url_for("console.inbox")
    if role in BROADCASTERS:
        return url_for("console.broadcasts")
    return url_for("console.dashboard")


@bp.get("/")
@login_required
def index() -> Response:
    return redirect(home_for(current_user))


#: How long the second step waits for its code, and how many wrong codes it takes.
PENDING_SECONDS = 300
MAX_CODE_TRIES = 5


def _login_page(form: object, status: int = 200) -> tuple[str, int]:
    return render_template("console/login.html", form=form), status


def _throttled(seconds: int) -> tuple[str, int]:
    """The same answer for every email, existing or not, before any password is checked."""
    minutes = max(1, math.ceil(seconds / 60))
    flash(
        ngettext(
            "Too many sign-in attempts. Try again in %(num)d minute.",
            "Too many sign-in attempts. Try again in %(num)d minutes.",
            minutes,
        ),
        "error",
    )
    return _login_page(LoginForm(), 429)


def _complete(user: User, next_url: str) -> Response:
    """Both factors passed: a fresh session, the throttle told, the sign-in audited."""
    throttle.record_success(user.email, request.remote_addr)
    audit.record(user, "login", "user", user.id)
    start_session(user)
    db.session.commit()
    if user.locale:
        refresh()
    return redirect(next_url)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("console/login.html", form=form)
    email, address = form.email.data or "", request.remote_addr
    wait = throttle.seconds_to_wait(email, address)
    if wait:
        return _throttled(wait)
    user = authenticate(email, form.password.data or "")
    if user is None:
        throttle.record_failure(email, address)
        flash(_("Wrong email or password."), "error")
        return _login_page(form, 401)
    next_url = _safe_next(request.args.get("next"), home_for(user))
    if not requires_second_factor(user):
        return _complete(user, next_url)
    session.clear()
    session["pending"] = {
        "uid": user.id,
        "sv": user.session_version,
        "at": int(time.time()),
        "next": next_url,
        "tries": 0,
    }
    step = "console.login_code" if is_enrolled(user) else "console.login_enrol"
    return redirect(url_for(step))


def _pending_user() -> tuple[User, dict[str, Any]] | None:
    """The user between password and code, if that step is recent and still valid."""
    pending = session.get("pending")
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        session.pop("pending", None)
        return None
    user = db.session.get(User, pending.get("uid"))
    if user is None or not user.active or user.session_version != pending.get("sv"):
        session.pop("pending", None)
        return None
    return user, pending


def _restart() -> Response:
    session.pop("pending", None)
    flash(_("Sign in again."), "error")
    return redirect(url_for("console.login"))


def _wrong_code(user: User, pending: dict[str, Any], page: str, **context: Any) -> Any:
    throttle.record_failure(user.email, request.remote_addr)
    db.session.rollback()  # nothing of a failed attempt is kept but the counters
    pending["tries"] = int(pending.get("tries", 0)) + 1
    session["pending"] = pending
    if pending["tries"] >= MAX_CODE_TRIES:
        return _restart()
    flash(_("That code is not right. Use the current code from your app."), "error")
    return _no_store(render_template(page, **context)), 401


def _no_store(body: str) -> Response:
    response = make_response(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/login/code", methods=["GET", "POST"])
def login_code() -> Any:
    """The second step for an enrolled user: a TOTP code from their app."""
    found = _pending_user()
    if found is None:
        return _restart()
    user, pending = found
    if not is_enrolled(user):
        return redirect(url_for("console.login_enrol"))
    form = CodeForm()
    if form.validate_on_submit():
        wait = throttle.seconds_to_wait(user.email, request.remote_addr)
        if wait:
            return _throttled(wait)
        if check_code(user, form.code.data or ""):
            session.pop("pending", None)
            return _complete(user, pending["next"])
        return _wrong_code(user, pending, "console/login_code.html", form=form)
    return _no_store(render_template("console/login_code.html", form=form))


@bp.route("/login/enrol", methods=["GET", "POST"])
def login_enrol() -> Any:
    """First sign-in of a role that needs a second factor: show the secret, take one code."""
    found = _pending_user()
    if found is None:
        return _restart()
    user, pending = found
    if is_enrolled(user):
        return redirect(url_for("console.login_code"))
    if user.totp_secret is None:  # kept while enrolment is pending, so a reload shows the same
        user.totp_secret = new_secret()
        db.session.commit()
    secret = user.totp_secret
    context = {
        "secret": grouped(secret),
        "uri": provisioning_uri(secret, user.email),
    }
    form = CodeForm()
    if form.validate_on_submit():
        wait = throttle.seconds_to_wait(user.email, request.remote_addr)
        if wait:
            return _throttled(wait)
        if enrol(user, secret, form.code.data or ""):
            audit.record(user, "second_factor.enrol", "user", user.id)
            session.pop("pending", None)
            return _complete(user, pending["next"])
        return _wrong_code(user, pending, "console/login_enrol.html", form=form, **context)
    return _no_store(render_template("console/login_enrol.html", form=form, **context))


@bp.post("/logout")
@login_required
def logout() -> Response:
    form = EmptyForm()
    if form.validate_on_submit():
        end_session()
    return redirect(url_for("console.login"))


@bp.post("/locale")
def set_locale() -> Response:
    """Remember the UI language: on the user's row when signed in, else in the session."""
    form = LocaleForm()
    target = _safe_next(form.next.data, url_for("console.index"))
    if form.validate_on_submit() and form.locale.data in UI_LOCALES:
        session["locale"] = form.locale.data
        if current_user.is_authenticated:
            current_user.locale = form.locale.data
            db.session.commit()
        refresh()
    return redirect(target)


# the account and access pages register with the sign-in views they belong to
from mcof_comms.console.views import access  # noqa: E402, F401
