"""End to end on the real stack: a signed webhook post, real RQ workers, the Twilio-compatible
fake. A life-threatening message pages the on-call number (once per case, escalated when nobody
acknowledges); a safeguarding report lands in the protection queue, hidden from a coordinator,
until protection confirms or clears it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from mcof_comms import jobs
from mcof_comms.cases import alerts, protection
from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.maintenance import sweep
from mcof_comms.models import (
    AuditEntry,
    Case,
    CaseEvent,
    Direction,
    Message,
    MessageKind,
    Operation,
    ProtectionStatus,
    Role,
    Team,
    TrainingExample,
    Urgency,
)
from mcof_comms.operations.services import (
    OperationConfigError,
    apply_operations_config,
    get_taxonomy,
    invalidate_caches,
)
from mcof_comms.setup import seed_defaults
from tests.cases.helpers import api_token, auth
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, inbound_params, sign
from tests.console.helpers import csrf_from, login, make_case, make_user
from tests.fake_twilio import FakeTwilio

PATH = "/webhooks/twilio/messages"
SENDER = "+50937001234"
PRIMARY = "+15005550101"
SECONDARY = "+15005550102"
# what the current rules certainly flag (checked with triage() when these tests were written)
LIFE_THREATENING = "someone is bleeding badly and not breathing, help now"
SAFEGUARDING = "the distribution worker asked for sex in exchange for food"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as server:
        yield server


@pytest.fixture
def stack(make_app: Callable[..., Flask], fake: FakeTwilio) -> Iterator[Flask]:
    """An app sending to the fake, the defaults seeded, the default operation's on-call numbers
    set; escalation after 5 minutes."""
    app = make_app(
        twilio_api_base_url=fake.base_url,
        public_base_url="http://localhost",
        outbound_rate_limit=0.0,
    )
    app.config["OUTBOUND_SEND_LEASE_SECONDS"] = 0
    with app.app_context():
        seed_defaults()
        operation = db.session.scalars(select(Operation).where(Operation.is_default)).one()
        operation.settings = {
            "emergency_number": "114",
            "on_call_primary": PRIMARY,
            "on_call_secondary": SECONDARY,
            "escalation_minutes": 5,
        }
        db.session.commit()
        invalidate_caches()
        yield app


class Browser:
    """A test client whose requests run in their own thread, so each gets a fresh app context
    (and ``g``) although the test holds one open for its database work."""

    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()
        self.application = app  # as FlaskClient has it (the sign-in helper reads it)
        self.pool = ThreadPoolExecutor(max_workers=1)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self.pool.submit(self.client.get, *args, **kwargs).result()

    def post(self, *args: Any, **kwargs: Any) -> Any:
        return self.pool.submit(self.client.post, *args, **kwargs).result()


def post(app: Flask, body: str, sender: str = SENDER) -> None:
    """A signed Twilio webhook post of one inbound SMS."""
    params = inbound_params(body, sender)
    response = Browser(app).post(
        PATH, data=params, headers={"X-Twilio-Signature": sign(f"http://localhost{PATH}", params)}
    )
    assert response.status_code == 200


def drain(app: Flask, *, scheduled: bool = False) -> None:
    """Run real RQ workers until the queues are empty; ``scheduled`` also runs the delayed
    escalation jobs now, as if their time had come."""
    backend = jobs.get_backend(app)
    queues = backend.queues()
    for _ in range(20):
        if scheduled:
            for queue in queues:
                registry = ScheduledJobRegistry(queue=queue)
                for job_id in registry.get_job_ids():
                    if not job_id.startswith("escalate-case-"):
                        continue  # retraining reschedules itself: leave it to its time
                    job = queue.fetch_job(job_id)
                    registry.remove(job_id)
                    if job is not None:
                        queue.enqueue_job(job)
        jobs.enqueue_due_scheduled_jobs(queues)
        if not any(q.count for q in queues):
            break
        jobs.AppWorker(queues, app=app, connection=backend.connection).work(
            burst=True, logging_level="WARNING"
        )
    db.session.remove()


def the_case() -> Case:
    return db.session.scalars(select(Case)).one()


def kinds(case: Case) -> list[str]:
    return list(
        db.session.scalars(
            select(CaseEvent.kind).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
    )


def user_client(app: Flask, role: Role, **kw: Any) -> Browser:
    user = make_user(role, **kw)
    browser = Browser(app)
    login(browser, user.email)  # type: ignore[arg-type]
    return browser


def _rewind_alert(case: Case, minutes: int) -> None:
    case.life_alert_at = case.life_alert_at - timedelta(minutes=minutes)
    db.session.commit()


# --- life-threatening ---------------------------------------------------------------------------


def test_life_threatening_webhook_pages_on_call_once_without_body_or_number(
    stack: Flask, fake: FakeTwilio
) -> None:
    post(stack, LIFE_THREATENING)
    drain(stack)

    case = the_case()
    assert case.urgency is Urgency.LIFE_THREATENING
    assert case.life_alert_at is not None
    assert case.life_alert_open
    (page,) = fake.sent_to(PRIMARY)
    assert case.reference in page.body
    assert f"http://localhost/cases/{case.id}" in page.body
    assert "bleeding" not in page.body
    assert "37001234" not in page.body
    inbound = db.session.scalars(select(Message).where(Message.direction == Direction.IN)).one()
    assert (page.created_at - inbound.created_at).total_seconds() < 60
    # the sender: the emergency number and what to do now, never a response time
    (ack,) = fake.sent_to(SENDER)
    assert "114" in ack.body
    assert case.reference in ack.body
    assert "respond by" not in ack.body
    assert fake.count_to(SECONDARY) == 0
    assert {"life_alert", "page"} <= set(kinds(case))
    registry = ScheduledJobRegistry(queue=jobs.get_backend(stack).queue(jobs.REPLIES))
    assert f"escalate-case-{case.id}" in registry.get_job_ids()

    post(stack, "still bleeding, he is not breathing, please help")  # a follow-up
    drain(stack)
    assert fake.count_to(PRIMARY) == 1  # one alert per case
    assert kinds(the_case()).count("life_alert") == 1


def test_a_follow_up_that_becomes_life_threatening_gets_guidance_inside_the_window(
    stack: Flask, fake: FakeTwilio
) -> None:
    operation = db.session.scalars(select(Operation)).one()
    ordinary = make_case(operation, "The clinic has no medicine", sector="health", phone=SENDER)
    ordinary.acknowledged_at = utcnow()  # acknowledged a minute ago: inside the window
    db.session.commit()

    post(stack, LIFE_THREATENING)  # the same person, the same sector: joins the case
    drain(stack)
    case = the_case()
    assert case.urgency is Urgency.LIFE_THREATENING
    (guidance,) = fake.sent_to(SENDER)
    assert "114" in guidance.body
    assert case.reference in guidance.body
    assert fake.count_to(PRIMARY) == 1


def test_unacknowledged_alert_escalates_to_the_second_number_once(
    stack: Flask, fake: FakeTwilio
) -> None:
    post(stack, LIFE_THREATENING)
    drain(stack)
    case = the_case()
    assert alerts.escalate_if_due(case.id) == "not yet"  # before the delay: nothing
    db.session.commit()
    assert fake.count_to(SECONDARY) == 0

    _rewind_alert(the_case(), 6)
    drain(stack, scheduled=True)  # the delayed job's time has come
    (page,) = fake.sent_to(SECONDARY)
    assert "ESCALATION" in page.body
    assert the_case().reference in page.body
    assert "bleeding" not in page.body
    case = the_case()
    assert case.life_alert_escalated_at is not None
    assert "escalated" in kinds(case)
    assert alerts.escalate_if_due(case.id) == "already escalated"
    sweep()
    drain(stack, scheduled=True)
    assert fake.count_to(SECONDARY) == 1


def test_acknowledging_in_the_console_stops_escalation(stack: Flask, fake: FakeTwilio) -> None:
    post(stack, LIFE_THREATENING)
    drain(stack)
    case_id = the_case().id
    client = user_client(stack, Role.COORDINATOR)
    assert client.get("/alerts.json").get_json()["alerts"][0]["case_id"] == case_id
    page = client.get("/canned").get_data(as_text=True)  # any console page
    assert the_case().reference in page
    assert 'id="life-alerts"' in page

    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200
    token = page.get_data(as_text=True)

    response = client.post(f"/alerts/{case_id}/acknowledge", data={"csrf_token": csrf_from(token)})
    assert response.status_code == 302
    assert client.get("/alerts.json").get_json()["alerts"] == []

    _rewind_alert(the_case(), 60)
    sweep()
    drain(stack, scheduled=True)
    assert fake.count_to(SECONDARY) == 0
    case = the_case()
    assert case.life_alert_acknowledged_by_id is not None
    assert "alert_acknowledged" in kinds(case)
    assert "escalated" not in kinds(case)
    assert db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "case.alert_acknowledged")
    ).one()


def test_the_sweeper_escalates_when_the_delayed_job_was_lost(
    stack: Flask, fake: FakeTwilio
) -> None:
    post(stack, LIFE_THREATENING)
    drain(stack)
    jobs.get_backend(stack).connection.flushdb()  # a Redis outage lost the delayed job
    _rewind_alert(the_case(), 6)
    sweep()
    drain(stack)
    assert fake.count_to(SECONDARY) == 1


def test_without_a_second_number_escalation_is_recorded_not_sent(
    stack: Flask, fake: FakeTwilio
) -> None:
    operation = db.session.scalars(select(Operation)).one()
    operation.settings = {"on_call_primary": PRIMARY}
    db.session.commit()
    invalidate_caches()
    post(stack, LIFE_THREATENING)
    drain(stack)
    _rewind_alert(the_case(), 11)  # the deployment's default delay: 10 minutes
    assert alerts.escalate_if_due(the_case().id) == "escalated"
    db.session.commit()
    drain(stack)
    assert fake.count_to(SECONDARY) == 0
    assert "page_skipped" in kinds(the_case())


def test_relabelling_to_life_threatening_raises_the_alert(stack: Flask, fake: FakeTwilio) -> None:
    operation = db.session.scalars(select(Operation)).one()
    make_case(operation, "We need tents at the camp", sector="shelter_nfi")
    from mcof_comms.cases.services import relabel_case

    actor = make_user(Role.COORDINATOR)
    relabel_case(the_case(), actor, urgency=Urgency.LIFE_THREATENING)
    db.session.commit()
    drain(stack)
    assert fake.count_to(PRIMARY) == 1
    assert the_case().life_alert_open


def test_on_call_staff_never_get_broadcasts(stack: Flask, fake: FakeTwilio) -> None:
    from mcof_comms.broadcasts.audience import iter_recipients

    post(stack, LIFE_THREATENING)
    drain(stack)
    operation = db.session.scalars(select(Operation)).one()
    staff = alerts.on_call_contact(PRIMARY)
    recipients = [r.contact_id for batch in iter_recipients({}, operation) for r in batch]
    assert staff.id not in recipients
    assert the_case().contact_id in recipients


def test_operations_config_validates_on_call_numbers(stack: Flask) -> None:
    taxonomy = get_taxonomy()
    with pytest.raises(OperationConfigError, match="on_call_primary"):
        apply_operations_config(
            {"operations": [{"slug": "x", "settings": {"on_call_primary": "call Ana"}}]}, taxonomy
        )
    db.session.rollback()
    (op,) = apply_operations_config(
        {
            "operations": [
                {
                    "slug": "x",
                    "settings": {"on_call_primary": "+1 500 555 0101", "escalation_minutes": 3},
                }
            ]
        },
        taxonomy,
    )
    assert op.settings == {"on_call_primary": PRIMARY, "escalation_minutes": 3}
    assert alerts.on_call_of(op.settings).escalation == timedelta(minutes=3)


# --- safeguarding ----------------------------------------------------------------------------


def test_safeguarding_report_goes_to_protection_hidden_from_a_coordinator(
    stack: Flask, fake: FakeTwilio
) -> None:
    post(stack, SAFEGUARDING)
    drain(stack)
    case = the_case()
    assert case.sensitive_category is not None
    assert case.protection_status == ProtectionStatus.PENDING
    assert db.session.get_one(Team, case.team_id).kind == "protection"
    (ack,) = fake.sent_to(SENDER)
    assert "sex" not in ack.body
    assert "food" not in ack.body

    coordinator = user_client(stack, Role.COORDINATOR)
    assert coordinator.get(f"/cases/{case.id}").status_code == 404  # as if it did not exist
    inbox = coordinator.get("/inbox?view=messages").get_data(as_text=True)
    assert "distribution worker" not in inbox
    assert case.reference not in inbox
    token = api_token(Role.COORDINATOR, email="api-coordinator@example.org")
    listed = Browser(stack).get("/api/v1/cases", headers=auth(token)).get_json()
    assert listed["data"] == []  # the only case is sensitive

    focal = user_client(stack, Role.PROTECTION_FOCAL_POINT)
    queue = focal.get("/inbox?sensitive=yes").get_data(as_text=True)
    assert case.reference in queue
    assert "awaiting protection review" in queue
    assert "distribution worker" in focal.get(f"/cases/{case.id}").get_data(as_text=True)


def test_clearing_releases_the_case_to_the_sector_team_triage_chose(stack: Flask) -> None:
    post(stack, SAFEGUARDING)
    drain(stack)
    case = the_case()
    chosen = case.sector
    assert chosen is not None
    focal = make_user(Role.PROTECTION_FOCAL_POINT)
    protection.clear_sensitive(case, focal)
    db.session.commit()

    case = the_case()
    assert case.sensitive_category is None
    assert case.protection_status == ProtectionStatus.CLEARED
    team = db.session.get_one(Team, case.team_id)
    assert team.kind != "protection"
    assert team.slug in (chosen, "referral")  # the sector's team, or the desk for a referral
    assert all(
        m.sensitive_category is None
        for m in db.session.scalars(select(Message).where(Message.case_id == case.id))
    )
    (example,) = db.session.scalars(select(TrainingExample))
    assert (example.sensitive, example.source, example.actor_id) == ("none", "protection", focal.id)
    assert "protection_clear" in kinds(case)
    assert db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "case.protection_clear")
    ).one()
    coordinator = user_client(stack, Role.COORDINATOR, email="c2@example.org")
    assert coordinator.get(f"/cases/{case.id}").status_code == 200


def test_confirming_may_change_the_category_and_is_a_training_example(stack: Flask) -> None:
    post(stack, SAFEGUARDING)
    drain(stack)
    focal = make_user(Role.PROTECTION_FOCAL_POINT)
    protection.confirm_sensitive(the_case(), focal, "gbv")
    db.session.commit()
    case = the_case()
    assert (case.sensitive_category, case.protection_status) == ("gbv", "confirmed")
    assert not case.awaiting_protection_review
    (example,) = db.session.scalars(select(TrainingExample))
    assert example.sensitive == "gbv"
    (message,) = db.session.scalars(
        select(Message).where(Message.case_id == case.id, Message.kind == MessageKind.FEEDBACK)
    )
    assert message.sensitive_category == "gbv"
    with pytest.raises(protection.ProtectionError):
        protection.confirm_sensitive(case, make_user(Role.COORDINATOR), "gbv")
