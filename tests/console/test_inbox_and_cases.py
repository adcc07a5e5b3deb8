"""The inbox (scope, filters, order, paging) and the case workflow through HTTP."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from mcof_comms.extensions import db
from mcof_comms.models import (
    AuditEntry,
    Case,
    CaseEvent,
    CaseStatus,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    Operation,
    Role,
    Urgency,
    User,
)
from tests.console.conftest import World
from tests.console.helpers import csrf, login, make_case


def _client(app: Flask, role: Role):  # type: ignore[no-untyped-def]
    client = app.test_client()
    login(client, f"{role.value}@example.org")
    return client


def test_inbox_orders_by_urgency_then_age_and_pages_by_keyset(app: Flask, world: World) -> None:
    from mcof_comms.console.services import InboxFilters, list_inbox

    with app.app_context():
        op = db.session.get_one(Operation, world.operation)
        old = make_case(op, "old normal", age=timedelta(days=3)).id
        life = make_case(op, "trapped", urgency=Urgency.LIFE_THREATENING).id
        coordinator = db.session.get_one(User, world.users[Role.COORDINATOR])
        seen: list[int] = []
        cursor = None
        while True:
            page = list_inbox(coordinator, InboxFilters(), cursor, limit=2)
            seen += [row.case.id for row in page.rows]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        # life-threatening first, then urgent, then normal cases oldest first; no sensitive case
        assert seen[0] == life
        assert seen[1] == world.shelter
        assert seen[2] == old
        assert set(seen) == {life, world.shelter, old, world.health}
        assert len(seen) == len(set(seen))


def test_inbox_filters_by_sector_search_and_status(app: Flask, world: World) -> None:
    client = _client(app, Role.COORDINATOR)
    with app.app_context():
        health = db.session.get_one(Case, world.health).reference
        shelter = db.session.get_one(Case, world.shelter).reference
    page = client.get("/inbox?sector=shelter_nfi").get_data(as_text=True)
    assert shelter in page
    assert health not in page
    page = client.get("/inbox?q=m%C3%A9dicaments").get_data(as_text=True)
    assert health in page
    assert shelter not in page
    page = client.get("/inbox?status=closed").get_data(as_text=True)
    assert health not in page
    assert shelter not in page


def test_scope_of_sector_and_protection_focal_points(app: Flask, world: World) -> None:
    with app.app_context():
        refs = {
            i: db.session.get_one(Case, i).reference
            for i in (world.health, world.shelter, world.sensitive)
        }
    sector = _client(app, Role.SECTOR_FOCAL_POINT).get("/inbox").get_data(as_text=True)
    assert refs[world.health] in sector
    assert refs[world.shelter] not in sector
    assert refs[world.sensitive] not in sector
    protection = _client(app, Role.PROTECTION_FOCAL_POINT).get("/inbox").get_data(as_text=True)
    assert refs[world.sensitive] in protection
    assert refs[world.health] not in protection
    coordinator = _client(app, Role.COORDINATOR).get("/inbox").get_data(as_text=True)
    assert refs[world.sensitive] not in coordinator


def test_relabel_goes_through_triage_and_is_recorded(
    app: Flask, world: World, triage_ready: None
) -> None:
    client = _client(app, Role.COORDINATOR)
    response = client.post(
        f"/cases/{world.shelter}/relabel",
        data={
            "sector": "health",
            "feedback_type": "complaint",
            "urgency": "normal",
            "csrf_token": csrf(client),
        },
    )
    assert response.status_code == 302
    with app.app_context():
        from mcof_comms.models import TrainingExample

        case = db.session.get_one(Case, world.shelter)
        assert (case.sector, case.feedback_type.value, case.urgency_rank) == (
            "health",
            "complaint",
            2,
        )
        assert db.session.scalar(select(TrainingExample.id)) is not None  # feeds training
        assert db.session.scalar(
            select(AuditEntry.id).where(
                AuditEntry.object_id == case.id, AuditEntry.action.like("%relabel")
            )
        )


def test_reply_then_close_closes_the_loop(app: Flask, world: World) -> None:
    client = _client(app, Role.COORDINATOR)
    token = csrf(client)
    refused = client.post(
        f"/cases/{world.health}/status", data={"status": "closed", "csrf_token": token}
    )
    assert refused.status_code == 302
    with app.app_context():
        assert db.session.get_one(Case, world.health).status is CaseStatus.NEW
    client.post(
        f"/cases/{world.health}/reply",
        data={"body": "Une équipe passe demain.", "csrf_token": token},
    )
    client.post(f"/cases/{world.health}/status", data={"status": "closed", "csrf_token": token})
    with app.app_context():
        case = db.session.get_one(Case, world.health)
        assert case.status is CaseStatus.CLOSED
        assert case.first_response_at is not None
        reply = db.session.scalars(
            select(Message).where(Message.case_id == case.id, Message.direction == Direction.OUT)
        ).one()
        assert reply.kind is MessageKind.REPLY
        assert reply.status is MessageStatus.QUEUED
        assert reply.num_segments == 1


def test_close_without_response_needs_a_reason(app: Flask, world: World) -> None:
    client = _client(app, Role.COORDINATOR)
    token = csrf(client)
    client.post(
        f"/cases/{world.health}/status",
        data={"status": "closed", "no_response_needed": "y", "reason": "", "csrf_token": token},
    )
    with app.app_context():
        assert db.session.get_one(Case, world.health).status is CaseStatus.NEW
    client.post(
        f"/cases/{world.health}/status",
        data={
            "status": "closed",
            "no_response_needed": "y",
            "reason": "duplicate of another case",
            "csrf_token": token,
        },
    )
    with app.app_context():
        case = db.session.get_one(Case, world.health)
        assert case.status is CaseStatus.CLOSED
        assert case.closure_reason == "duplicate of another case"


def test_referral_names_a_partner_and_is_recorded(app: Flask, world: World) -> None:
    client = _client(app, Role.COORDINATOR)
    token = csrf(client)
    client.post(f"/cases/{world.health}/status", data={"status": "referred", "csrf_token": token})
    with app.app_context():
        assert db.session.get_one(Case, world.health).status is CaseStatus.NEW
    client.post(
        f"/cases/{world.health}/status",
        data={"status": "referred", "partner": "WASH cluster", "csrf_token": token},
    )
    with app.app_context():
        case = db.session.get_one(Case, world.health)
        assert case.status is CaseStatus.REFERRED
        assert case.referral_partner == "WASH cluster"
        event = db.session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "refer")
        ).one()
        assert event.detail["partner"] == "WASH cluster"


def test_numbers_are_masked_and_reveal_is_audited(app: Flask, world: World) -> None:
    client = _client(app, Role.COORDINATOR)
    with app.app_context():
        phone = db.session.get_one(Case, world.health).contact.phone
    page = client.get(f"/cases/{world.health}").get_data(as_text=True)
    assert phone not in page
    assert "+509 •••• " + phone[-2:] in page
    revealed = client.post(f"/cases/{world.health}/reveal", data={"csrf_token": csrf(client)})
    assert phone in revealed.get_data(as_text=True)
    with app.app_context():
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "reveal_phone")
        ).one()
        assert entry.user_id == world.users[Role.COORDINATOR]


def test_every_view_of_a_sensitive_case_is_audited(app: Flask, world: World) -> None:
    client = _client(app, Role.PROTECTION_FOCAL_POINT)
    client.get(f"/cases/{world.sensitive}")
    client.get(f"/cases/{world.sensitive}")
    _client(app, Role.COORDINATOR).get(f"/cases/{world.sensitive}")  # refused, and recorded
    with app.app_context():
        actions = list(
            db.session.scalars(
                select(AuditEntry.action).where(AuditEntry.object_id == world.sensitive)
            )
        )
        assert actions.count("view_sensitive_case") == 2
        assert "denied_sensitive_case" in actions
    audit_page = _client(app, Role.ADMIN).get("/audit").get_data(as_text=True)
    assert "view_sensitive_case" in audit_page


def test_bulk_close_with_a_message_replies_and_closes(app: Flask, world: World) -> None:
    client = _client(app, Role.COORDINATOR)
    response = client.post(
        "/inbox/bulk",
        data={
            "case_ids": [str(world.health), str(world.shelter)],
            "action": "close",
            "message": "Distribution moved to Monday.",
            "csrf_token": csrf(client),
        },
    )
    assert response.status_code == 302
    with app.app_context():
        for case_id in (world.health, world.shelter):
            assert db.session.get_one(Case, case_id).status is CaseStatus.CLOSED
        assert (
            len(db.session.scalars(select(Message).where(Message.direction == Direction.OUT)).all())
            == 2
        )


def test_bulk_action_on_a_case_out_of_scope_is_refused(app: Flask, world: World) -> None:
    client = _client(app, Role.SECTOR_FOCAL_POINT)
    response = client.post(
        "/inbox/bulk",
        data={
            "case_ids": [str(world.shelter)],
            "action": "close",
            "message": "x",
            "csrf_token": csrf(client),
        },
    )
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get_one(Case, world.shelter).status is CaseStatus.NEW


def test_review_queue_lists_low_confidence_cases(app: Flask, world: World) -> None:
    with app.app_context():
        op = db.session.get_one(Operation, world.operation)
        unsure = make_case(op, "hmm", needs_review=True)
        ref = unsure.reference
        unsure_id = unsure.id
    client = _client(app, Role.COORDINATOR)
    page = client.get("/inbox?review=1").get_data(as_text=True)
    assert ref in page
    with app.app_context():
        other = db.session.get_one(Case, world.health).reference
    assert other not in page
    client.post(f"/cases/{unsure_id}/review", data={"csrf_token": csrf(client)})
    assert ref not in client.get("/inbox?review=1").get_data(as_text=True)


def test_canned_responses_are_editable_and_offered_in_the_case(app: Flask, world: World) -> None:
    client = _client(app, Role.COORDINATOR)
    client.post(
        "/canned",
        data={
            "title": "Merci",
            "language": "fr",
            "body": "Merci pour votre message.",
            "csrf_token": csrf(client),
        },
    )
    page = client.get(f"/cases/{world.health}").get_data(as_text=True)
    assert "Merci pour votre message." in page


def test_memberships_scope_a_user_to_their_operations(app: Flask, world: World) -> None:
    from mcof_comms.console.services import set_operations

    with app.app_context():
        other = Operation(slug="other", name="Other response", default_language="fr")
        db.session.add(other)
        db.session.flush()
        elsewhere = make_case(other, "Besoin de bâches à Jérémie", sector="shelter_nfi")
        elsewhere_id, elsewhere_ref = elsewhere.id, elsewhere.reference
        coordinator = db.session.get_one(User, world.users[Role.COORDINATOR])
        set_operations(coordinator, [world.operation])  # instead of the all-operations grant
        db.session.commit()
    client = _client(app, Role.COORDINATOR)
    assert elsewhere_ref not in client.get("/inbox").get_data(as_text=True)
    assert client.get(f"/cases/{elsewhere_id}").status_code == 404
    assert client.get(f"/cases/{world.health}").status_code == 200
    admin = _client(app, Role.ADMIN)  # the explicit all-operations grant
    assert admin.get(f"/cases/{elsewhere_id}").status_code == 200
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "Other response" in page
    admin.post(
        f"/admin/users/{world.users[Role.COORDINATOR]}/operations",
        data={
            "operation_ids": [str(world.operation), str(elsewhere_id and other_id(app))],
            "csrf_token": csrf(admin, "/admin/users"),
        },
    )
    assert client.get(f"/cases/{elsewhere_id}").status_code == 200


def other_id(app: Flask) -> int:
    with app.app_context():
        return db.session.scalars(select(Operation.id).where(Operation.slug == "other")).one()


def test_closing_sends_the_resolved_notice_where_configured(app: Flask, world: World) -> None:
    with app.app_context():
        operation = db.session.get_one(Operation, world.operation)
        operation.settings = {"notify_resolved": True}
        case = db.session.get_one(Case, world.health)
        case.language = "fr"
        db.session.commit()
        reference = case.reference
    client = _client(app, Role.COORDINATOR)
    token = csrf(client)
    client.post(
        f"/cases/{world.health}/reply", data={"body": "On s'en occupe.", "csrf_token": token}
    )
    client.post(f"/cases/{world.health}/status", data={"status": "closed", "csrf_token": token})
    with app.app_context():
        notice = db.session.scalars(
            select(Message).where(
                Message.case_id == world.health, Message.kind == MessageKind.SYSTEM
            )
        ).one()
        assert reference in notice.body
        assert "résolu" in notice.body  # rendered in the person's language


def test_message_view_lists_visible_messages_newest_first(app: Flask, world: World) -> None:
    sector = _client(app, Role.SECTOR_FOCAL_POINT).get("/inbox?view=messages")
    page = sector.get_data(as_text=True)
    assert "médicaments" in page  # their sector
    assert "tente est cassée" not in page  # another sector
    assert "money for the card" not in page  # sensitive
    coordinator = _client(app, Role.COORDINATOR).get("/inbox?view=messages").get_data(as_text=True)
    assert coordinator.index("tente est cassée") < coordinator.index("médicaments")
    protection = _client(app, Role.PROTECTION_FOCAL_POINT)
    assert "money for the card" in protection.get("/inbox?view=messages").get_data(as_text=True)


def test_bulk_label_relabels_through_triage_and_refuses_unknown_sectors(
    app: Flask, world: World, triage_ready: None
) -> None:
    client = _client(app, Role.COORDINATOR)
    token = csrf(client)
    ids = [str(world.health), str(world.shelter)]
    client.post(
        "/inbox/bulk",
        data={"case_ids": ids, "action": "label", "sector": "no_such_sector", "csrf_token": token},
    )
    with app.app_context():
        assert db.session.get_one(Case, world.health).sector == "health"
    client.post(
        "/inbox/bulk",
        data={"case_ids": ids, "action": "label", "sector": "food", "csrf_token": token},
    )
    with app.app_context():
        assert {db.session.get_one(Case, int(i)).sector for i in ids} == {"food"}


def test_sector_focal_point_also_sees_the_cases_of_their_team(app: Flask, world: World) -> None:
    from mcof_comms.models import Team

    with app.app_context():
        op = db.session.get_one(Operation, world.operation)
        team = Team(operation_id=op.id, slug="wash-team", name="WASH team")
        db.session.add(team)
        db.session.flush()
        case = make_case(op, "Les latrines débordent", sector="water_sanitation")
        case.team_id = team.id
        user = db.session.get_one(User, world.users[Role.SECTOR_FOCAL_POINT])
        user.sectors = ["health", "wash-team"]
        db.session.commit()
        case_id, reference = case.id, case.reference
    client = _client(app, Role.SECTOR_FOCAL_POINT)
    assert reference in client.get("/inbox").get_data(as_text=True)
    assert client.get(f"/cases/{case_id}").status_code == 200
    assert client.get(f"/cases/{world.shelter}").status_code == 404
