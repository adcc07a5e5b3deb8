"""The cases API: what each role sees, redaction of sensitive bodies, alerts on top, paging."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mcof_comms.extensions import db
from mcof_comms.models import AuditEntry, Role
from mcof_comms.setup import seed_defaults
from tests.cases.helpers import all_cases, api_token, auth, inbound, run_inbound, send

HEALTH = "Où est la clinique la plus proche ?"
SHELTER = "Nou bezwen tant ak prela, kay nou kraze nèt"
SEA = "He said I get my card faster if I come to his tent at night"
RUBBLE = "My father is under the rubble and bleeding, please help"


@pytest.fixture
def cases(app_ctx, twilio_post):
    """Four cases from four people: health, shelter, a sensitive report, a life-threat."""
    seed_defaults()
    db.session.commit()
    send(twilio_post, HEALTH, "+50937001111")
    send(twilio_post, SHELTER, "+50937002222")
    send(twilio_post, SEA, "+50937003333")
    send(twilio_post, RUBBLE, "+50937004444")
    run_inbound(app_ctx)
    return {c.sector if not c.sensitive_category else "sea": c for c in all_cases()}


def listed(client, token, **params):
    response = client.get("/api/v1/cases", headers=auth(token), query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def refs(page):
    return [c["reference"] for c in page["data"]]


def test_case_detail_has_status_sectors_team_messages_and_sla(client, cases):
    token = api_token(Role.COORDINATOR)
    case = cases["health"]
    body = client.get(f"/api/v1/cases/{case.id}", headers=auth(token)).get_json()
    assert body["reference"] == case.reference
    assert body["status"] == "new"
    assert body["sector"] == "health"
    assert body["sectors"][0]["slug"] == "health"
    assert body["team"]["slug"] == "health"
    assert body["sla_due_at"].endswith("+00:00")
    assert body["urgency"] == "normal"
    assert body["sensitive"] is None
    inbound_json, ack_json = body["messages"]
    assert inbound_json["body"] == HEALTH
    assert inbound_json["language"] == "fr"
    assert inbound_json["sectors"][0]["slug"] == "health"
    assert inbound_json["feedback_type"]
    assert inbound_json["urgency"] == "normal"
    assert inbound_json["case_id"] == case.id
    assert inbound_json["triage"]["sectors"][0]["keywords"]
    assert ack_json["direction"] == "out"
    assert case.reference in ack_json["body"]
    assert [e["kind"] for e in body["events"]][:1] == ["opened"]


def test_life_threatening_case_is_on_top_with_its_alert(client, cases):
    token = api_token(Role.COORDINATOR)
    page = listed(client, token)
    assert page["data"][0]["reference"] == cases["search_rescue"].reference
    assert page["data"][0]["alert"] is True
    assert page["data"][0]["urgency"] == "life_threatening"
    alerts = listed(client, token, alert="true")
    assert refs(alerts) == [cases["search_rescue"].reference]
    detail = client.get(f"/api/v1/cases/{cases['search_rescue'].id}", headers=auth(token))
    assert "alert" in [e["kind"] for e in detail.get_json()["events"]]


def test_life_threatening_case_stays_on_top_of_another_teams_queue(client, cases):
    token = api_token(Role.COORDINATOR)
    health_team = cases["health"].team_id
    assert refs(listed(client, token, team=health_team)) == [
        cases["search_rescue"].reference,
        cases["health"].reference,
    ]


def test_coordinator_sees_every_case_but_the_sensitive_one(client, cases):
    token = api_token(Role.COORDINATOR)
    assert cases["sea"].reference not in refs(listed(client, token))
    assert len(listed(client, token)["data"]) == 3
    assert client.get(f"/api/v1/cases/{cases['sea'].id}", headers=auth(token)).status_code == 404


def test_sector_focal_point_sees_their_sectors_only_as_in_the_console(client, cases):
    token = api_token(Role.SECTOR_FOCAL_POINT, sectors=["health"])
    assert refs(listed(client, token)) == [cases["health"].reference]
    for other in ("shelter_nfi", "search_rescue"):  # another sector's life threat too
        response = client.get(f"/api/v1/cases/{cases[other].id}", headers=auth(token))
        assert response.status_code == 404


def test_protection_focal_point_sees_the_sensitive_case_and_its_words(client, cases):
    token = api_token(Role.PROTECTION_FOCAL_POINT)
    page = listed(client, token, sensitive="true")
    assert refs(page) == [cases["sea"].reference]
    assert page["data"][0]["team"]["slug"] == "protection"
    detail = client.get(f"/api/v1/cases/{cases['sea'].id}", headers=auth(token)).get_json()
    assert detail["sensitive"] == "sexual_exploitation_abuse"
    assert detail["messages"][0]["body"] == SEA
    audits = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "view_sensitive_case")
    ).all()
    assert {a.object_id for a in audits} == {cases["sea"].id}


@pytest.mark.parametrize(
    ("role", "sees_body"),
    [
        (Role.ADMIN, True),
        (Role.PROTECTION_FOCAL_POINT, True),
        (Role.COORDINATOR, False),
        (Role.SECTOR_FOCAL_POINT, False),
    ],
)
def test_sensitive_message_body_is_redacted_unless_the_role_may_see_it(
    client, cases, role, sees_body
):
    token = api_token(role, sectors=["shelter_nfi"] if role is Role.SECTOR_FOCAL_POINT else None)
    message_id = inbound(SEA).id
    response = client.get(f"/api/v1/messages/{message_id}", headers=auth(token))
    listing = client.get("/api/v1/messages", headers=auth(token)).get_json()["data"]
    texts = [m["body"] for m in listing]
    assert (SEA in texts) is sees_body
    if not sees_body:  # the message of a sensitive case does not exist for them
        assert response.status_code == 404
        assert message_id not in [m["id"] for m in listing]
        return
    body = response.get_json()
    assert body["sensitive"] == "sexual_exploitation_abuse"
    assert body["body_redacted"] is False
    assert body["body"] == SEA
    assert body["triage"]["sensitivity"]["value"] == "sexual_exploitation_abuse"


def test_keyset_pagination_walks_every_visible_case_once(client, cases):
    token = api_token(Role.ADMIN)
    seen, cursor = [], None
    while True:
        params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = listed(client, token, **params)
        seen += refs(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(c.reference for c in cases.values())
    assert seen[0] == cases["search_rescue"].reference


def test_filters_and_bad_arguments(client, cases):
    token = api_token(Role.COORDINATOR)
    assert refs(listed(client, token, sector="shelter_nfi")) == [
        cases["search_rescue"].reference,
        cases["shelter_nfi"].reference,
    ]
    assert refs(listed(client, token, urgency="normal", sector="health")) == [
        cases["health"].reference
    ]
    assert client.get("/api/v1/cases?urgency=soon", headers=auth(token)).status_code == 400
    assert client.get("/api/v1/cases?cursor=abc", headers=auth(token)).status_code == 400
    assert client.get("/api/v1/cases?alert=maybe", headers=auth(token)).status_code == 400


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.VIEWER])
def test_roles_without_case_access_get_403(client, cases, role):
    token = api_token(role)
    assert client.get("/api/v1/cases", headers=auth(token)).status_code == 403
    assert client.get("/api/v1/cases").status_code == 401


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.SECTOR_FOCAL_POINT])
def test_a_survivors_thread_and_contact_stay_hidden_from_other_staff(
    app_ctx, client, cases, twilio_post, role
):
    token = api_token(role, sectors=["health"] if role is Role.SECTOR_FOCAL_POINT else None)
    reporter = inbound(SEA)
    send(twilio_post, "Please answer me soon", "+50937003333")  # a follow-up, same person
    run_inbound(app_ctx)
    contact_id = reporter.contact_id

    assert client.get(f"/api/v1/contacts/{contact_id}", headers=auth(token)).status_code == 404
    thread = client.get(f"/api/v1/messages?contact={contact_id}", headers=auth(token)).get_json()
    assert SEA not in [m["body"] for m in thread["data"]]
    follow_up = inbound("Please answer me soon")
    if follow_up.case_id == reporter.case_id:  # it joined the sensitive case: hidden too
        assert follow_up.id not in [m["id"] for m in thread["data"]]
    protection = api_token(Role.PROTECTION_FOCAL_POINT)
    seen = client.get(f"/api/v1/contacts/{contact_id}", headers=auth(protection))
    assert seen.status_code == 200


def test_replies_reach_only_cases_the_caller_may_open(client, cases):
    sea = cases["sea"]
    coordinator = api_token(Role.COORDINATOR)
    into_sensitive = client.post(
        f"/api/v1/contacts/{sea.contact_id}/messages",
        json={"body": "Hello", "case_id": sea.id},
        headers=auth(coordinator),
    )
    assert into_sensitive.status_code == 404
    other = cases["health"]
    wrong_contact = client.post(
        f"/api/v1/contacts/{other.contact_id}/messages",
        json={"body": "Hello", "case_id": sea.id},
        headers=auth(api_token(Role.PROTECTION_FOCAL_POINT)),
    )
    assert wrong_contact.status_code == 404
    allowed = client.post(
        f"/api/v1/contacts/{other.contact_id}/messages",
        json={"body": "We are on our way", "case_id": other.id},
        headers=auth(coordinator),
    )
    assert allowed.status_code == 201
