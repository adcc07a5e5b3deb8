"""Sign in, sign out, the UI language, and the landing page for each role."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from mcof_comms import audit
from mcof_comms.auth.login import authenticate
from mcof_comms.auth.permissions import BROADCASTERS, CASE_WORKERS
from mcof_comms.console import bp
from mcof_comms.console.forms import EmptyForm, LocaleForm, LoginForm
from mcof_comms.extensions import db
from mcof_comms.i18n import UI_LOCALES


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


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        result = authenticate(form.email.data or "", form.password.data or "")
        if result.user is not None:
            audit.record(result.user, "login", "user", result.user.id)
            db.session.commit()
            session.clear()
            login_user(result.user)
            if result.user.locale:
                refresh()
            return redirect(_safe_next(request.args.get("next"), home_for(result.user)))
        db.session.commit()  # failure counters and lockout
        if result.locked:
            flash(_("Too many failed attempts. Try again in 15 minutes."), "error")
        else:
            flash(_("Wrong email or password."), "error")
        return render_template("console/login.html", form=form), 401
    return render_template("console/login.html", form=form)


@bp.post("/logout")
@login_required
def logout() -> Response:
    form = EmptyForm()
    if form.validate_on_submit():
        logout_user()
        session.clear()
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
