"""Who may see what. One place, so the API, the console and exports agree."""

from __future__ import annotations

import re

from mcof_comms.models import Role

#: Roles that may read individual messages through the API.
MESSAGE_READERS = frozenset(
    {Role.ADMIN, Role.COORDINATOR, Role.SECTOR_FOCAL_POINT, Role.PROTECTION_FOCAL_POINT}
)
#: Roles that see phone numbers in full without an audited reveal: none, admins included (the
#: console's reveal shows a number once and records who saw it).
PHONE_READERS: frozenset[Role] = frozenset()
#: Roles that must sign in with a second factor (TOTP): they see safeguarding cases or manage
#: everyone else's access.
SECOND_FACTOR_ROLES = frozenset({Role.ADMIN, Role.PROTECTION_FOCAL_POINT})


def token_roles(role: Role) -> frozenset[Role]:
    """Roles an API token of a user with ``role`` may act as: the same or viewer; admins any.

    Roles are not a ladder (a coordinator may not broadcast, a responder may not read cases),
    so the only narrowing that is always a subset is to the viewer.
    """
    if role is Role.ADMIN:
        return frozenset(Role)
    return frozenset({role, Role.VIEWER})


def can_read_messages(role: Role) -> bool:
    return role in MESSAGE_READERS


def can_see_phone_numbers(role: Role) -> bool:
    return role in PHONE_READERS


_DIGITS = re.compile(r"\d")


def mask_address(address: str | None) -> str | None:
    """``+50937001234`` -> ``+509 •••• 34``; ``whatsapp:`` prefixes are kept, opaque ids hidden."""
    if address is None:
        return None
    prefix = ""
    if address.startswith("whatsapp:"):
        prefix, address = "whatsapp:", address.split(":", 1)[1]
    if not address.startswith("+"):
        return prefix + "••••"
    import phonenumbers

    try:
        country = str(phonenumbers.parse(address, None).country_code)
    except phonenumbers.NumberParseException:
        country = address[1:3]
    digits = "".join(_DIGITS.findall(address))
    return f"{prefix}+{country} •••• {digits[-2:]}"


# --- console: which role may open which page, and which cases (added by the console work) ---

#: Roles that work cases in the inbox.
CASE_WORKERS = frozenset(
    {Role.ADMIN, Role.COORDINATOR, Role.SECTOR_FOCAL_POINT, Role.PROTECTION_FOCAL_POINT}
)
#: Roles that may see a sensitive (safeguarding) case, its body included; every view is audited.
SENSITIVE_READERS = frozenset({Role.ADMIN, Role.PROTECTION_FOCAL_POINT})
#: Roles that compose, approve and send broadcasts (as mcof_comms.broadcasts.services allows).
BROADCASTERS = frozenset({Role.ADMIN, Role.RESPONDER})
#: Roles that see the dashboard (sensitive volumes only as counts, and only to SENSITIVE_READERS).
DASHBOARD_READERS = frozenset(Role)
#: Roles that may download pseudonymized exports of their visible cases and messages.
EXPORTERS = frozenset(
    {
        Role.ADMIN,
        Role.COORDINATOR,
        Role.SECTOR_FOCAL_POINT,
        Role.PROTECTION_FOCAL_POINT,
        Role.VIEWER,
    }
)
#: Roles that run trainings with the simulator and edit canned responses.
TRAINERS = frozenset({Role.ADMIN, Role.COORDINATOR})
#: Roles that read the audit log.
AUDITORS = frozenset({Role.ADMIN})


def can_see_sensitive(role: Role) -> bool:
    return role in SENSITIVE_READERS


def can_view_case(user: object, case: object) -> bool:
    """The one rule for opening a case, shared by the API and the console.

    Sensitive cases go to protection focal points (and admins) only; protection focal points see
    only sensitive cases; a sector focal point sees the non-sensitive cases of their sectors.
    """
    role: Role = user.role  # type: ignore[attr-defined]
    sensitive = case.sensitive_category is not None  # type: ignore[attr-defined]
    if role is Role.ADMIN:
        return True
    if role is Role.PROTECTION_FOCAL_POINT:
        return sensitive
    if sensitive:
        return False
    if role is Role.COORDINATOR:
        return True
    if role is Role.SECTOR_FOCAL_POINT:  # their sectors, or their teams (by team slug)
        mine = set(user.sectors or ())  # type: ignore[attr-defined]
        team = getattr(case, "team", None)
        return case.sector in mine or (team is not None and team.slug in mine)  # type: ignore[attr-defined]
    return False
