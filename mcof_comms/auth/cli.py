"""``flask users ...`` and ``flask tokens ...`` commands that end or narrow access.

They add to the ``users`` and ``tokens`` groups of :mod:`mcof_comms.cli`; each change is
committed and audited (with no actor: it was made on the server).
"""

from __future__ import annotations

import click

from mcof_comms import audit
from mcof_comms.cli import tokens, users
from mcof_comms.extensions import db
from mcof_comms.models import ApiToken, User


def _user(email: str) -> User:
    from mcof_comms.auth.users import get_user_by_email

    user = get_user_by_email(email)
    if user is None:
        raise click.ClickException(f"no user with email {email}")
    return user


@users.command("list")
def list_users_command() -> None:
    """List users: id, email, role, state, second factor."""
    from sqlalchemy import select

    from mcof_comms.auth.second_factor import is_enrolled

    for user in db.session.scalars(select(User).order_by(User.email)):
        state = "active" if user.active else "deactivated"
        factor = "totp" if is_enrolled(user) else "-"
        click.echo(f"{user.id}\t{user.email}\t{user.role.value}\t{state}\t{factor}")


@users.command("deactivate")
@click.option("--email", required=True)
def deactivate_command(email: str) -> None:
    """Stop a user: no sign-in; their sessions end and their tokens are revoked."""
    from mcof_comms.auth.users import deactivate_user

    user = _user(email)
    deactivate_user(user)
    audit.record(None, "user.deactivate", "user", user.id)
    db.session.commit()
    click.echo(f"deactivated user {user.id}")


@users.command("activate")
@click.option("--email", required=True)
def activate_command(email: str) -> None:
    """Let a deactivated user sign in again (revoked tokens stay revoked)."""
    from mcof_comms.auth.users import activate_user

    user = _user(email)
    activate_user(user)
    audit.record(None, "user.activate", "user", user.id)
    db.session.commit()
    click.echo(f"activated user {user.id}")


@users.command("reset-password")
@click.option("--email", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True, confirmation_prompt=True)
def reset_password_command(email: str, password: str) -> None:
    """Set a new password; every session of the user ends."""
    from mcof_comms.auth.users import UserError, set_password

    user = _user(email)
    try:
        set_password(user, password)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    audit.record(None, "user.password_reset", "user", user.id)
    db.session.commit()
    click.echo(f"password of user {user.id} reset; their sessions ended")


@users.command("reset-2fa")
@click.option("--email", required=True)
def reset_second_factor_command(email: str) -> None:
    """Forget a user's TOTP secret (lost phone); they set up a new one at the next sign-in."""
    from mcof_comms.auth.second_factor import reset_second_factor
    from mcof_comms.auth.users import end_all_sessions

    user = _user(email)
    reset_second_factor(user)
    end_all_sessions(user)
    audit.record(None, "user.second_factor_reset", "user", user.id)
    db.session.commit()
    click.echo(f"second factor of user {user.id} reset; their sessions ended")


@users.command("sign-out-everywhere")
@click.option("--email", required=True)
def sign_out_everywhere_command(email: str) -> None:
    """End every console session of a user (a lost laptop, a copied cookie)."""
    from mcof_comms.auth.users import end_all_sessions

    user = _user(email)
    end_all_sessions(user)
    audit.record(None, "user.sessions_end", "user", user.id)
    db.session.commit()
    click.echo(f"every session of user {user.id} ended")


@tokens.command("list")
@click.option("--email", default=None, help="Only this user's tokens.")
def list_tokens_command(email: str | None) -> None:
    """List tokens: id, user, name, acts as, expiry, last use, state (never the token)."""
    from mcof_comms.auth.tokens import is_usable, list_tokens

    for token in list_tokens(_user(email) if email else None):
        role = (token.role or token.user.role).value + (" read-only" if token.read_only else "")
        state = "revoked" if token.revoked_at else "valid" if is_usable(token) else "expired"
        expires = token.expires_at.isoformat(timespec="minutes") if token.expires_at else "-"
        used = token.last_used_at.isoformat(timespec="minutes") if token.last_used_at else "-"
        click.echo(
            f"{token.id}\t{token.user.email}\t{token.name or '-'}\t{role}\t"
            f"expires {expires}\tused {used}\t{state}"
        )


@tokens.command("revoke")
@click.option("--id", "token_id", required=True, type=int)
def revoke_token_command(token_id: int) -> None:
    """Revoke a token at once."""
    from mcof_comms.auth.tokens import revoke_token

    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise click.ClickException(f"no token {token_id}")
    if revoke_token(token):
        audit.record(None, "token.revoke", "api_token", token.id)
    db.session.commit()
    click.echo(f"token {token.id} revoked")
