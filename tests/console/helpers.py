"""Console test data: users of every role and cases made through the receive path."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from itertools import count

import pyotp
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from mcof_comms.auth.permissions import SECOND_FACTOR_ROLES
from mcof_comms.console.services import set_operations
from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import (
    URGENCY_RANK,
    Case,
    CaseStatus,
    FeedbackType,
    Operation,
    Role,
    Urgency,
    User,
)
from tests.factories import make_inbound

PASSWORD = "correct-horse-battery"
#: The TOTP secret of every test user whose role needs a second factor (enrolled at creation).
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
_numbers = count(1000)
_refs = count(1)


# The same argon2id scheme with small cost parameters: a hash carries its own parameters, so
# sign-in verifies it for real, in milliseconds instead of most of a second per user.
FAST_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)


def make_user(role: Role, *, email: str | None = None, sectors: list[str] | None = None) -> User:
    if role is Role.SECTOR_FOCAL_POINT and sectors is None:
        sectors = ["health"]
    user = User(
        email=email or f"{role.value}@example.org",
        password_hash=FAST_HASH,
        role=role,
        sectors=sorted(sectors or []),
    )
    if role in SECOND_FACTOR_ROLES:
        user.totp_secret = TOTP_SECRET
        user.totp_enabled_at = utcnow()
    db.session.add(user)
    db.session.flush()
    set_operations(user, [], all_operations=True)  # the explicit grant (no membership: none)
    db.session.commit()
    return user


def make_case(
    operation: Operation,
    body: str = "We need water at the camp",
    *,
    sector: str = "health",
    sensitive: str | None = None,
    urgency: Urgency = Urgency.NORMAL,
    feedback_type: FeedbackType = FeedbackType.REQUEST,
    language: str = "fr",
    status: CaseStatus = CaseStatus.NEW,
    needs_review: bool = False,
    phone: str | None = None,
    age: timedelta = timedelta(hours=1),
    due_in: timedelta = timedelta(hours=24),
) -> Case:
    """A case holding one inbound message received through the real receive path."""
    message = make_inbound(body, phone or f"+5093700{next(_numbers):04d}")
    created = utcnow() - age
    case = Case(
        reference=f"T{next(_refs):05d}",
        operation_id=operation.id,
        contact_id=message.contact_id,
        sector=sector,
        status=status,
        feedback_type=feedback_type,
        urgency=urgency,
        urgency_rank=URGENCY_RANK[urgency],
        sensitive_category=sensitive,
        needs_review=needs_review,
        language=language,
        created_at=created,
        last_message_at=created,
        due_at=created + due_in,
    )
    db.session.add(case)
    db.session.flush()
    message.case_id = case.id
    message.language = language
    message.operation_id = operation.id
    message.triage = {"sector": {"slug": sector, "source": "lexicon", "confidence": 0.8}}
    db.session.commit()
    return case


_CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def csrf_from(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token in page"
    return found.group(1) or found.group(2)


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> object:
    """Sign in as a person would, with a TOTP code when the step asks for one."""
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    if response.status_code == 302 and response.headers["Location"].endswith("/login/code"):
        page = client.get("/login/code")
        code = next_totp_code(client.application, email)
        token = csrf_from(page.get_data(as_text=True))
        response = client.post("/login/code", data={"code": code, "csrf_token": token})
    return response


def next_totp_code(app: Flask, email: str, secret: str = TOTP_SECRET) -> str:
    """A current code the user has not used yet (a code is accepted once), waiting for the
    next 30-second step if the ones allowed now were all used."""
    totp = pyotp.TOTP(secret)
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == email)).one()
        last = user.totp_last_step
        db.session.remove()
    while True:
        now = int(time.time()) // totp.interval
        step = max(now - 1, (last or 0) + 1)
        if step <= now + 1:
            return totp.generate_otp(step)
        time.sleep(1)


def csrf(client: FlaskClient, path: str = "/dashboard") -> str:
    return csrf_from(client.get(path).get_data(as_text=True))
