"""Who may get in: the user's own account page, and the admin's page of users and tokens.

Every change here ends sessions or credentials at once (the session version, token
revocation) and is audited; none of it waits for a cookie or a token to expire.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from mcof_comms import audit
from mcof_comms.auth import throttle
from mcof_comms.auth.permissions import AUDITORS
from mcof_comms.auth.second_factor import is_enrolled, reset_second_factor
from mcof_comms.auth.sessions import end_session, start_session
from mcof_comms.auth.tokens import is_usable, list_tokens, revoke_token
from mcof_comms.auth.users import (
    activate_user,
    check_password,
    deactivate_user,
    end_all_sessions,
    set_password,
)
from mcof_comms.console import bp, require_roles
from mcof_comms.console.account_forms import ChangePasswordForm, ResetPasswordForm
from mcof_comms.console.forms import EmptyForm
from mcof_comms.extensions import db
from mcof_comms.models import ApiToken, User


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account() -> Response | str | tuple[str, int]:
    """Change one's password (every other session ends), or sign out everywhere."""
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        address = request.remote_addr
        if throttle.seconds_to_wait(user.email, address):
            flash(_("Too many attempts. Try again later."), "error")
            status = 429
        elif not check_password(user, form.current.data or ""):
            throttle.record_failure(user.email, address)
            flash(_("The current password is not right."), "error")
            status = 401
        else:
            set_password(user, form.new.data or "")
            audit.record(user, "user.password_change", "user", user.id)
            start_session(user)  # this session goes on under the new version
            db.session.commit()
            flash(_("Password changed. Your other sessions were signed out."), "success")
            return redirect(url_for("console.account"))
    elif request.method == "POST":
        status = 400
    return (
        render_template(
            "console/account.html",
            form=form,
            empty=EmptyForm(),
            enrolled=is_enrolled(user),
        ),
        status,
    )


@bp.post("/account/sign-out-everywhere")
@login_required
def sign_out_everywhere() -> Response:
    if not EmptyForm().validate_on_submit():
        abort(400)
    end_all_sessions(current_user)
    audit.record(current_user, "user.sessions_end", "user", current_user.id)
    db.session.commit()
    end_session()
    return redirect(url_for("console.login"))


@bp.get("/admin/access")
@require_roles(AUDITORS)
def admin_access() -> str:
    """Users (active, second factor, last sign-in) and every API token."""
    users = list(db.session.scalars(select(User).order_by(User.email)))
    return render_template(
        "console/admin_access.html",
        users=users,
        tokens=list_tokens(),
        is_enrolled=is_enrolled,
        is_usable=is_usable,
        form=EmptyForm(),
        reset_form=ResetPasswordForm(),
    )


def _target(user_id: int) -> User:
    user = db.get_or_404(User, user_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    return user


def _done(message: str) -> Response:
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("console.admin_access"))


@bp.post("/admin/access/users/<int:user_id>/deactivate")
@require_roles(AUDITORS)
def deactivate(user_id: int) -> Response:
    user = _target(user_id)
    if user.id == current_user.id:
        flash(_("You cannot deactivate yourself."), "error")
        return redirect(url_for("console.admin_access"))
    deactivate_user(user)
    audit.record(current_user, "user.deactivate", "user", user.id)
    return _done(_("%(email)s is deactivated; their sessions and tokens ended.", email=user.email))


@bp.post("/admin/access/users/<int:user_id>/activate")
@require_roles(AUDITORS)
def activate(user_id: int) -> Response:
    user = _target(user_id)
    activate_user(user)
    audit.record(current_user, "user.activate", "user", user.id)
    return _done(_("%(email)s may sign in again.", email=user.email))


@bp.post("/admin/access/users/<int:user_id>/password")
@require_roles(AUDITORS)
def reset_password(user_id: int) -> Response:
    user = db.get_or_404(User, user_id)
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        flash(_("A new password needs at least 8 characters."), "error")
        return redirect(url_for("console.admin_access"))
    set_password(user, form.password.data or "")
    audit.record(current_user, "user.password_reset", "user", user.id)
    if user.id == current_user.id:
        start_session(user)
    return _done(_("Password of %(email)s reset; their sessions ended.", email=user.email))


@bp.post("/admin/access/users/<int:user_id>/second-factor")
@require_roles(AUDITORS)
def reset_user_second_factor(user_id: int) -> Response:
    user = _target(user_id)
    reset_second_factor(user)
    end_all_sessions(user)
    audit.record(current_user, "user.second_factor_reset", "user", user.id)
    return _done(_("%(email)s sets up a new second factor at the next sign-in.", email=user.email))


@bp.post("/admin/access/users/<int:user_id>/sessions")
@require_roles(AUDITORS)
def end_user_sessions(user_id: int) -> Response:
    user = _target(user_id)
    end_all_sessions(user)
    audit.record(current_user, "user.sessions_end", "user", user.id)
    if user.id == current_user.id:
        start_session(user)
    return _done(_("Every session of %(email)s ended.", email=user.email))


@bp.post("/admin/access/tokens/<int:token_id>/revoke")
@require_roles(AUDITORS)
def revoke(token_id: int) -> Response:
    token = db.get_or_404(ApiToken, token_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if revoke_token(token):
        audit.record(current_user, "token.revoke", "api_token", token.id)
    return _done(_("Token %(id)d revoked.", id=token.id))
