"""The case page as a browser submits it: a correction of one label leaves the others and the
routing alone; mark sensitive moves a case out of sight at once; protection confirms or clears;
admins set the on-call numbers of an operation."""

from __future__ import annotations

from html.parser import HTMLParser

from flask import Flask
from sqlalchemy import select

from mcof_comms.extensions import db
from mcof_comms.models import (
    AuditEntry,
    Case,
    CaseEvent,
    Message,
    Operation,
    ProtectionStatus,
    Role,
    Team,
    TrainingExample,
    Urgency,
)
from mcof_comms.operations.services import invalidate_caches
from tests.console.conftest import World
from tests.console.helpers import csrf, login, make_case


def _client(app: Flask, role: Role):  # type: ignore[no-untyped-def]
    client = app.test_client()
    login(client, f"{role.value}@example.org")
    return client


class _FormReader(HTMLParser):
    """What a browser submits for one form: hidden inputs, and each select's selected option
    (or, with none selected, its first)."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside, self.values = action, False, {}
        self.select: str | None = None
        self.first: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action") == self.action
        elif self.inside and tag == "input" and a.get("name"):
            self.values[a["name"]] = a.get("value") or ""
        elif self.inside and tag == "select":
            self.select, self.first = a.get("name"), None
        elif self.inside and tag == "option" and self.select:
            if self.first is None:
                self.first = a.get("value") or ""
                self.values.setdefault(self.select, self.first)
            if "selected" in a:
                self.values[self.select] = a.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        if tag == "select":
            self.select = None


def browser_form(html: str, action: str) -> dict[str, str]:
    reader = _FormReader(action)
    reader.feed(html)
    assert reader.values, f"no form posting to {action}"
    return reader.values


def _state(case_id: int) -> tuple[object, ...]:
    case = db.session.get_one(Case, case_id)
    return (case.sector, case.feedback_type.value, case.urgency.value, case.team_id)


def test_changing_only_the_urgency_leaves_sector_type_and_routing_alone(
    app: Flask, world: World, triage_ready: None
) -> None:
    with app.app_context():
        operation = db.session.get_one(Operation, world.operation)
        # a case triage found no sector for (the review queue), and one it routed
        no_sector = make_case(operation, "Bonjour, une question", sector="health")
        no_sector.sector, no_sector.needs_review = None, True
        db.session.commit()
        ids = [no_sector.id, world.health]
        before = {i: _state(i) for i in ids}
    client = _client(app, Role.COORDINATOR)
    for case_id in ids:
        action = f"/cases/{case_id}/relabel"
        form = browser_form(client.get(f"/cases/{case_id}").get_data(as_text=True), action)
        form["urgency"] = "urgent"  # the reviewer changes this one field only
        assert client.post(action, data=form).status_code == 302

    with app.app_context():
        for case_id in ids:
            sector, feedback_type, urgency, team = _state(case_id)
            assert urgency == "urgent"
            assert (sector, feedback_type, team) == (
                before[case_id][0],
                before[case_id][1],
                before[case_id][3],
            )
            examples = db.session.scalars(
                select(TrainingExample).where(TrainingExample.case_id == case_id)
            ).all()
            assert [e.urgency for e in examples] == ["urgent"]
            assert examples[0].sectors == ([sector] if sector else [])
        assert db.session.get_one(Case, no_sector.id).sector is None


def test_a_label_the_reviewer_left_as_shown_is_not_overwritten(
    app: Flask, world: World, triage_ready: None
) -> None:
    client = _client(app, Role.COORDINATOR)
    action = f"/cases/{world.health}/relabel"
    form = browser_form(client.get(f"/cases/{world.health}").get_data(as_text=True), action)
    with app.app_context():  # meanwhile a follow-up message made the case urgent
        case = db.session.get_one(Case, world.health)
        case.set_urgency(Urgency.URGENT)
        db.session.commit()
    form["feedback_type"] = "complaint"  # the reviewer corrects the type only
    assert client.post(action, data=form).status_code == 302
    with app.app_context():
        case = db.session.get_one(Case, world.health)
        assert (case.feedback_type.value, case.urgency) == ("complaint", Urgency.URGENT)


def test_any_case_worker_can_mark_a_case_sensitive_and_loses_sight_of_it(
    app: Flask, world: World, triage_ready: None
) -> None:
    focal = _client(app, Role.SECTOR_FOCAL_POINT)  # health focal point: sees the health case
    html = focal.get(f"/cases/{world.health}").get_data(as_text=True)
    form = browser_form(html, f"/cases/{world.health}/mark-sensitive")
    form["category"] = "gbv"
    response = focal.post(f"/cases/{world.health}/mark-sensitive", data=form)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/inbox")

    with app.app_context():
        case = db.session.get_one(Case, world.health)
        reference = case.reference
        assert (case.sensitive_category, case.protection_status) == ("gbv", "pending")
        assert db.session.get_one(Team, case.team_id).kind == "protection"
        assert all(
            m.sensitive_category == "gbv"
            for m in db.session.scalars(select(Message).where(Message.case_id == case.id))
        )
        assert db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "case.mark_sensitive")
        ).one()
        (example,) = db.session.scalars(select(TrainingExample))
        assert (example.sensitive, example.source) == ("gbv", "mark_sensitive")

    assert focal.get(f"/cases/{world.health}").status_code == 404  # as if it did not exist
    coordinator = _client(app, Role.COORDINATOR)
    assert coordinator.get(f"/cases/{world.health}").status_code == 404
    assert reference not in coordinator.get("/inbox").get_data(as_text=True)
    export = coordinator.get("/exports/cases.csv").get_data(as_text=True)
    assert reference not in export
    messages = coordinator.get("/inbox?view=messages").get_data(as_text=True)
    assert "médicaments" not in messages
    # one-way: only protection may clear it
    token = csrf(coordinator)
    cleared = coordinator.post(
        f"/cases/{world.health}/protection/clear", data={"csrf_token": token}
    )
    assert cleared.status_code == 403

    protection = _client(app, Role.PROTECTION_FOCAL_POINT)
    queue = protection.get("/inbox?sensitive=yes").get_data(as_text=True)
    assert reference in queue
    assert "awaiting protection review" in queue


def test_protection_confirms_with_another_category_then_the_badge_goes(
    app: Flask, world: World, triage_ready: None
) -> None:
    client = _client(app, Role.PROTECTION_FOCAL_POINT)
    action = f"/cases/{world.sensitive}/protection/confirm"
    html = client.get(f"/cases/{world.sensitive}").get_data(as_text=True)
    assert "awaiting protection review" in html
    form = browser_form(html, action)
    form["category"] = "staff_misconduct"
    assert client.post(action, data=form).status_code == 302
    with app.app_context():
        case = db.session.get_one(Case, world.sensitive)
        assert case.sensitive_category == "staff_misconduct"
        assert case.protection_status == ProtectionStatus.CONFIRMED
        event = db.session.scalars(
            select(CaseEvent).where(CaseEvent.kind == "protection_confirm")
        ).one()
        assert event.detail == {"before": "fraud", "after": "staff_misconduct"}
    assert "awaiting protection review" not in client.get(f"/cases/{world.sensitive}").get_data(
        as_text=True
    )


def test_protection_clears_and_the_coordinator_sees_the_case(
    app: Flask, world: World, triage_ready: None
) -> None:
    client = _client(app, Role.PROTECTION_FOCAL_POINT)
    response = client.post(
        f"/cases/{world.sensitive}/protection/clear", data={"csrf_token": csrf(client)}
    )
    assert response.status_code == 302
    with app.app_context():
        case = db.session.get_one(Case, world.sensitive)
        assert case.sensitive_category is None
        assert db.session.get_one(Team, case.team_id).slug == "protection_trafficking"
    assert _client(app, Role.COORDINATOR).get(f"/cases/{world.sensitive}").status_code == 200


def test_admin_sets_on_call_numbers_and_escalation_in_operation_settings(
    app: Flask, world: World
) -> None:
    path = f"/admin/operations/{world.operation}"
    assert _client(app, Role.COORDINATOR).get(path).status_code == 403
    admin = _client(app, Role.ADMIN)
    assert "Default operation" in admin.get("/admin/operations").get_data(as_text=True)
    form = {
        "csrf_token": csrf(admin),
        "emergency_number": "114",
        "on_call_primary": "+1 500 555 0101",
        "on_call_secondary": "whatsapp:+15005550102",
        "escalation_minutes": "7",
    }
    assert admin.post(path, data=form).status_code == 302
    bad = admin.post(path, data={**form, "on_call_primary": "Ana's phone"}, follow_redirects=True)
    assert "Not saved" in bad.get_data(as_text=True)
    with app.app_context():
        invalidate_caches()
        settings = db.session.get_one(Operation, world.operation).settings
        assert settings["on_call_primary"] == "+15005550101"
        assert settings["on_call_secondary"] == "whatsapp:+15005550102"
        assert (settings["emergency_number"], settings["escalation_minutes"]) == ("114", 7)
        audit = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "operation.alert_settings")
        ).one()
        assert "+15005550101" not in str(audit.detail)  # numbers stay out of the audit log
    page = admin.get(path).get_data(as_text=True)
    assert 'value="+15005550101"' in page
