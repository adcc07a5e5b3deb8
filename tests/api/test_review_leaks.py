"""Leaks a security review found in the API (issue 11: items 1, 4, 5 and 9), each closed.

Cases are made through the real receive path (``make_case``), without triage, so these run in
seconds; the visibility rules under test are the same SQL the console uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import select

from mcof_comms.auth.tokens import create_token
from mcof_comms.console.services import set_operations
from mcof_comms.extensions import db
from mcof_comms.models import AuditEntry, Message, Operation, Role, Urgency
from tests.console.helpers import make_case, make_user
from tests.factories import make_outbound

SURVIVOR = "+50937005555"
WORDS = "He said I get my card faster if I come to his tent at night"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token(role: Role, *, operations: list[int] | None = None, sectors: list[str] | None = None):
    """A user of ``role`` (all operations, or only ``operations``) and a bearer token."""
    user = make_user(role, email=f"{role.value}-{len(operations or [])}@example.org")
    if sectors is not None:
        user.sectors = sectors
    if operations is not None:
        set_operations(user, operations)
    value = create_token(user, "tests")
    db.session.commit()
    return value


@dataclass
class Setup:
    operation: int
    other: int
    sensitive: int  # the survivor's open sensitive case
    health: int  # the survivor's older non-sensitive case, same contact
    contact: int
    elsewhere: int  # a case in the other operation
    elsewhere_contact: int


@pytest.fixture
def setup(app_ctx: Flask) -> Setup:
    operation = Operation(slug="goma", name="Goma", is_default=True, default_language="fr")
    other = Operation(slug="cayes", name="Les Cayes", default_language="fr")
    db.session.add_all([operation, other])
    db.session.commit()
    health = make_case(operation, "Il n'y a pas de médicaments", sector="health", phone=SURVIVOR)
    sensitive = make_case(
        operation, WORDS, sector="protection_sea", sensitive="sexual_exploitation_abuse"
    )
    # the same person wrote both: move the sensitive report onto the survivor's contact
    db.session.execute(
        Message.__table__.update()
        .where(Message.case_id == sensitive.id)
        .values(contact_id=health.contact_id)
    )
    sensitive.contact_id = health.contact_id
    elsewhere = make_case(other, "Besoin de bâches", sector="shelter_nfi")
    db.session.commit()
    return Setup(
        operation.id,
        other.id,
        sensitive.id,
        health.id,
        health.contact_id,
        elsewhere.id,
        elsewhere.contact_id,
    )


def thread(client, value: str, contact_id: int) -> list[dict]:
    response = client.get(f"/api/v1/messages?contact={contact_id}", headers=auth(value))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


# --- 1. a reply without case_id joins the open sensitive case and never leaks -------------


def test_a_reply_without_case_joins_the_open_sensitive_case_and_stays_hidden(client, setup):
    protection = token(Role.PROTECTION_FOCAL_POINT)
    coordinator = token(Role.COORDINATOR)
    response = client.post(
        f"/api/v1/contacts/{setup.contact}/messages",
        json={"body": "We are here for you. Can you talk safely?"},
        headers=auth(protection),
    )
    assert response.status_code == 201, response.get_json()
    reply = response.get_json()
    assert reply["case_id"] == setup.sensitive
    assert reply["operation_id"] == setup.operation
    shown = [m["id"] for m in thread(client, coordinator, setup.contact)]
    assert reply["id"] not in shown
    assert (
        client.get(f"/api/v1/messages/{reply['id']}", headers=auth(coordinator)).status_code == 404
    )


def test_a_coordinator_cannot_reply_into_a_survivors_open_sensitive_case(client, setup):
    coordinator = token(Role.COORDINATOR)
    response = client.post(
        f"/api/v1/contacts/{setup.contact}/messages",
        json={"body": "Hello"},
        headers=auth(coordinator),
    )
    assert response.status_code == 404
    assert db.session.scalar(select(Message.id).where(Message.body == "Hello")) is None


def test_without_a_sensitive_case_a_reply_joins_the_latest_open_case(client, setup):
    coordinator = token(Role.COORDINATOR)
    response = client.post(
        f"/api/v1/contacts/{setup.elsewhere_contact}/messages",
        json={"body": "Les bâches arrivent jeudi."},
        headers=auth(coordinator),
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["case_id"] == setup.elsewhere


def test_case_less_messages_of_a_survivor_follow_the_rule_of_their_cases(client, setup):
    caseless = make_outbound(setup.contact, "Your card is ready", operation_id=setup.operation)
    coordinator = token(Role.COORDINATOR)
    protection = token(Role.PROTECTION_FOCAL_POINT)
    assert caseless.id not in [m["id"] for m in thread(client, coordinator, setup.contact)]
    assert caseless.id in [m["id"] for m in thread(client, protection, setup.contact)]


# --- 4. every sensitive read through the message API is audited, once per case ------------


def test_the_message_api_audits_each_sensitive_case_it_returns(client, setup):
    make_outbound(setup.contact, "A reply in the case", case_id=setup.sensitive)
    admin = token(Role.ADMIN)
    data = thread(client, admin, setup.contact)
    assert WORDS in [m["body"] for m in data]
    message_id = next(m["id"] for m in data if m["body"] == WORDS)
    assert client.get(f"/api/v1/messages/{message_id}", headers=auth(admin)).status_code == 200
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "view_sensitive_case")
    ).all()
    # two responses, each with the sensitive case once (two of its messages in the first)
    assert [(e.object_id, e.detail["via"]) for e in entries] == [(setup.sensitive, "api")] * 2


# --- 5. operation scoping fails closed ------------------------------------------------------


def test_a_coordinator_of_one_operation_cannot_read_or_message_another_operations_contact(
    client, setup
):
    scoped = token(Role.COORDINATOR, operations=[setup.operation])
    contact = setup.elsewhere_contact
    assert client.get(f"/api/v1/contacts/{contact}", headers=auth(scoped)).status_code == 404
    response = client.post(
        f"/api/v1/contacts/{contact}/messages", json={"body": "Bonjour"}, headers=auth(scoped)
    )
    assert response.status_code == 404
    assert thread(client, scoped, contact) == []
    everywhere = token(Role.COORDINATOR)
    assert client.get(f"/api/v1/contacts/{contact}", headers=auth(everywhere)).status_code == 200


def test_a_user_whose_last_operation_is_removed_sees_no_operation(client, setup):
    user = make_user(Role.COORDINATOR, email="unticked@example.org")
    set_operations(user, [setup.operation])
    value = create_token(user, "tests")
    set_operations(user, [])  # the last operation unticked: none, not all of them
    db.session.commit()
    assert client.get("/api/v1/cases", headers=auth(value)).get_json()["data"] == []
    assert client.get("/api/v1/messages", headers=auth(value)).get_json()["data"] == []
    assert client.get(f"/api/v1/cases/{setup.health}", headers=auth(value)).status_code == 404


# --- 9. the API opens no case the console would not -----------------------------------------


def test_a_focal_point_cannot_read_another_sectors_life_threatening_case(client, setup):
    operation = db.session.get_one(Operation, setup.operation)
    rubble = make_case(
        operation,
        "My father is under the rubble",
        sector="search_rescue",
        urgency=Urgency.LIFE_THREATENING,
    )
    focal = token(Role.SECTOR_FOCAL_POINT, sectors=["health"])
    assert client.get(f"/api/v1/cases/{rubble.id}", headers=auth(focal)).status_code == 404
    listed = client.get("/api/v1/cases", headers=auth(focal)).get_json()["data"]
    assert rubble.id not in [c["id"] for c in listed]
    assert setup.health in [c["id"] for c in listed]
    messages = client.get("/api/v1/messages", headers=auth(focal)).get_json()["data"]
    assert "My father is under the rubble" not in [m["body"] for m in messages]
