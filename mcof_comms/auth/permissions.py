"""Who may see what. One place, so the API, the console and exports agree."""

from __future__ import annotations

import re

from mcof_comms.models import Role

#: Roles that may read individual messages through the API.
MESSAGE_READERS = frozenset(
    {Role.ADMIN, Role.COORDINATOR, Role.SECTOR_FOCAL_POINT, Role.PROTECTION_FOCAL_POINT}
)
#: Roles that see phone numbers in full without an audited reveal.
PHONE_READERS = frozenset({Role.ADMIN})


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
