"""Routing rules (pure): sector team, referral desk, protection, review, alerts."""

from __future__ import annotations

from mcof_comms.pipeline.routing import Queue, SectorSetting, choose_route

SETTINGS = {
    "health": SectorSetting("health", referral=False, active=True, team_id=4, partner=None),
    "transport": SectorSetting("transport", referral=False, active=False, team_id=3, partner=None),
    "food": SectorSetting("food", referral=True, active=True, team_id=17, partner=None),
    "cash": SectorSetting("cash", referral=True, active=True, team_id=17, partner="Local CWG"),
}
PARTNERS = {"food": "Food Security cluster / WFP", "transport": "Transport partners"}


def route(sector, *, sensitive=None, life=False):
    return choose_route(
        sector=sector,
        settings=SETTINGS,
        protection_team_id=16,
        referral_team_id=17,
        sensitive_category=sensitive,
        life_threatening=life,
        default_partners=PARTNERS,
    )


def test_active_sector_goes_to_its_team():
    r = route("health")
    assert (r.queue, r.team_id, r.partner, r.quarantined, r.alert) == (
        Queue.SECTOR,
        4,
        None,
        False,
        False,
    )
    assert r.reason == "sector:health"


def test_referral_category_goes_to_the_referral_desk_with_the_config_partner():
    r = route("food")
    assert (r.queue, r.team_id, r.partner) == (Queue.REFERRAL, 17, "Food Security cluster / WFP")


def test_operation_partner_overrides_the_config_partner():
    assert route("cash").partner == "Local CWG"


def test_inactive_sector_is_referred_with_a_partner():
    r = route("transport")
    assert (r.queue, r.team_id, r.partner) == (Queue.REFERRAL, 17, "Transport partners")
    assert r.reason == "inactive:transport"


def test_sector_the_operation_does_not_know_is_referred():
    r = route("consular")
    assert (r.queue, r.team_id) == (Queue.REFERRAL, 17)


def test_sensitive_goes_to_protection_quarantined_with_alert_whatever_the_sector():
    r = route("health", sensitive="gbv")
    assert (r.queue, r.team_id, r.quarantined, r.alert) == (Queue.PROTECTION, 16, True, True)
    assert r.reason == "sensitive:gbv"


def test_no_sector_goes_to_review_without_a_team():
    r = route(None)
    assert (r.queue, r.team_id, r.alert) == (Queue.REVIEW, None, False)


def test_life_threatening_alerts_in_any_queue():
    assert route("health", life=True).alert
    assert route("food", life=True).alert
    assert route(None, life=True).alert
    assert route("health", life=True).team_id == 4
