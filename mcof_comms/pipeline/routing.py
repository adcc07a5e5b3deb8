"""Choose where a triaged case goes. Pure: values in, a :class:`Route` out.

Rules, in order:

1. sensitive: protection focal points only, quarantined, with an alert;
2. no sector found: the needs-review queue (no team);
3. a referral category, or a sector the operation does not run (inactive or unknown): the
   referral desk, with the partner named;
4. otherwise: the sector's team.

A life-threatening case raises an alert wherever it goes; ordering by urgency puts it at the top
of every queue.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class Queue(enum.StrEnum):
    SECTOR = "sector"
    REFERRAL = "referral"
    PROTECTION = "protection"
    REVIEW = "review"


@dataclass(frozen=True)
class SectorSetting:
    """One sector or referral category as the operation runs it."""

    slug: str
    referral: bool
    active: bool
    team_id: int | None
    partner: str | None  # the operation's partner, else the category's


@dataclass(frozen=True)
class Route:
    queue: Queue
    team_id: int | None
    partner: str | None
    quarantined: bool
    alert: bool
    reason: str  # short, stable, shown to coordinators: "sector:health", "inactive:transport"


def choose_route(
    *,
    sector: str | None,
    settings: Mapping[str, SectorSetting],
    protection_team_id: int | None,
    referral_team_id: int | None,
    sensitive_category: str | None,
    life_threatening: bool,
    default_partners: Mapping[str, str] | None = None,
) -> Route:
    """Route one case (see the module docstring for the rules)."""
    alert = life_threatening
    if sensitive_category is not None:
        return Route(
            Queue.PROTECTION,
            protection_team_id,
            None,
            quarantined=True,
            alert=True,
            reason=f"sensitive:{sensitive_category}",
        )
    if sector is None:
        return Route(Queue.REVIEW, None, None, False, alert, "no_sector")
    setting = settings.get(sector)
    partner = (setting.partner if setting else None) or (default_partners or {}).get(sector)
    if setting is None or not setting.active:
        return Route(Queue.REFERRAL, referral_team_id, partner, False, alert, f"inactive:{sector}")
    if setting.referral:
        team = setting.team_id or referral_team_id
        return Route(Queue.REFERRAL, team, partner, False, alert, f"referral:{sector}")
    return Route(Queue.SECTOR, setting.team_id, None, False, alert, f"sector:{sector}")
