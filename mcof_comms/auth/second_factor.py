"""TOTP second factor (RFC 6238, through pyotp) for the roles that see the most.

Admins and protection focal points must enrol: a stolen password alone must not open
safeguarding cases. Anyone else who enrolled is asked too. A code is accepted once (RFC 6238
section 5.2): the step it belongs to is kept in ``user.totp_last_step`` and only a later step is
accepted afterwards, so a code read over a shoulder cannot be replayed. One step of clock drift
either way is allowed.
"""

from __future__ import annotations

import hmac
import time

import pyotp

from mcof_comms.auth.permissions import SECOND_FACTOR_ROLES
from mcof_comms.db import utcnow
from mcof_comms.models import User

#: Shown by authenticator apps beside the account.
ISSUER = "mcof-comms"
DRIFT_STEPS = 1


def requires_second_factor(user: User) -> bool:
    return user.role in SECOND_FACTOR_ROLES or user.totp_enabled_at is not None


def is_enrolled(user: User) -> bool:
    return user.totp_secret is not None and user.totp_enabled_at is not None


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    """The ``otpauth://`` URI an authenticator app takes (typed or pasted; no QR service)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def grouped(secret: str) -> str:
    """``JBSWY3DPEHPK3PXP`` -> ``JBSW Y3DP EHPK 3PXP``: easier to type into a phone."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _normalize(code: str) -> str | None:
    code = "".join(code.split())
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    return code


def matching_step(secret: str, code: str, *, after: int | None) -> int | None:
    """The time step ``code`` belongs to, if it is current (within drift) and after ``after``."""
    normalized = _normalize(code)
    if normalized is None:
        return None
    totp = pyotp.TOTP(secret)
    now = int(time.time()) // totp.interval
    found = None
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        # compare every candidate: the time taken does not tell which step matched
        if hmac.compare_digest(totp.generate_otp(step), normalized) and (
            after is None or step > after
        ):
            found = step
    return found


def check_code(user: User, code: str) -> bool:
    """Accept a current, unused code of an enrolled user, and mark its step used. Flushes no."""
    if not is_enrolled(user):
        return False
    step = matching_step(user.totp_secret or "", code, after=user.totp_last_step)
    if step is None:
        return False
    user.totp_last_step = step
    return True


def enrol(user: User, secret: str, code: str) -> bool:
    """Keep ``secret`` as the user's second factor once they show a code made from it."""
    step = matching_step(secret, code, after=None)
    if step is None:
        return False
    user.totp_secret = secret
    user.totp_enabled_at = utcnow()
    user.totp_last_step = step
    return True


def reset_second_factor(user: User) -> None:
    """Forget the secret: the user enrols again at the next sign-in (required roles)."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
