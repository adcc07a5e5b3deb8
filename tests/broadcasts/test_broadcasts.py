"""Broadcasts end to end: API, audience, per-language rendering, approval, cancel, progress."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from mcof_comms.broadcasts.jobs import fan_out_broadcast
from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import (
    Broadcast,
    BroadcastStatus,
    Case,
    Channel,
    ContactChannel,
    Message,
    MessageStatus,
    Role,
)
from tests.broadcasts.conftest import auth, make_operation, seed_contacts, token_for
from tests.conftest import ACCOUNT_SID, sign

TEXTS = {
    "en": "Food distribution on {date} at the school. Bring your card.",
    "fr": "Distribution de vivres le {date} à l'école. Apportez votre carte.",
    "ar": "توزيع المواد الغذائية يوم {date} في المدرسة. أحضروا بطاقتكم.",
    "sw": "Mgao wa chakula tarehe {date} shuleni. Leteni kadi zenu.",
}
DATE = {"date": {"type": "date", "value": "2026-12-03"}}


def create(client, token, **overrides):
    payload = {
        "operation": "goma",
        "base_language": "en",
        "translations": TEXTS,
        "variables": DATE,
        "audience": {},
    }
    payload.update(overrides)
    return client.post("/api/v1/broadcasts", json=payload, headers=auth(token))


def test_each_recipient_gets_their_language_and_their_locale_s_date(send_app, fake, drain):
    operation = make_operation()
    fr = seed_contacts(operation, 2, language="fr")
    ar = seed_contacts(operation, 2, language="ar")
    sw = seed_contacts(operation, 1, language="sw")
    unknown = seed_contacts(operation, 1, language=None)  # operation default: fr
    es = seed_contacts(operation, 1, language="es")  # no Spanish text: operation default
    token, _ = token_for(Role.RESPONDER, "r@example.org")
    client = send_app.test_client()

    created = create(client, token)
    assert created.status_code == 201, created.json
    preview = created.json["preview"]
    assert preview["recipients"] == 7
    assert preview["languages"]["fr"]["recipients"] == 4
    assert preview["languages"]["ar"]["direction"] == "rtl"
    assert preview["languages"]["ar"]["encoding"] == "UCS-2"
    assert preview["languages"]["fr"]["channels"] == {"sms": 4}
    assert preview["languages"]["ar"]["text"].startswith("توزيع")
    assert preview["estimated_cost"]["currency"] == "USD"

    broadcast_id = created.json["id"]
    sent = client.post(f"/api/v1/broadcasts/{broadcast_id}/send", headers=auth(token))
    assert sent.status_code == 202
    assert sent.json["status"] == "sending"
    drain()

    bodies = {m.to: m.body for m in fake.sent}
    assert len(fake.sent) == 7
    phones = dict(
        db.session.execute(
            select(ContactChannel.contact_id, ContactChannel.address).where(
                ContactChannel.contact_id.in_(fr + ar + sw + unknown + es)
            )
        ).all()
    )
    assert "3 décembre 2026" in bodies[phones[fr[0]]]
    assert "3 décembre 2026" in bodies[phones[unknown[0]]]
    assert bodies[phones[es[0]]].startswith("Distribution de vivres")
    assert "3 ديسمبر 2026" in bodies[phones[ar[0]]]
    assert bodies[phones[ar[0]]].startswith("توزيع")
    assert "3 Desemba 2026" in bodies[phones[sw[0]]]
    rows = db.session.execute(
        select(Message.language, func.count())
        .where(Message.broadcast_id == broadcast_id)
        .group_by(Message.language)
    ).all()
    assert dict(rows) == {"fr": 4, "ar": 2, "sw": 1}
    assert db.session.get_one(Broadcast, broadcast_id).status is BroadcastStatus.SENT


def test_plural_placeholders_follow_each_language_s_rules(send_app, fake, drain):
    operation = make_operation()
    seed_contacts(operation, 1, language="ar")
    seed_contacts(operation, 1, language="en")
    token, _ = token_for(Role.ADMIN, "a@example.org")
    client = send_app.test_client()
    created = create(
        client,
        token,
        translations={"en": "Registration closes {days}.", "ar": "يغلق التسجيل {days}."},
        variables={"days": {"type": "days", "value": 2}},
    )
    client.post(f"/api/v1/broadcasts/{created.json['id']}/send", headers=auth(token))
    drain()
    bodies = sorted(m.body for m in fake.sent)
    assert "Registration closes in 2 days." in bodies
    assert any("يومين" in b for b in bodies)  # Arabic dual, not the plural


def test_status_callbacks_move_progress_per_language(send_app, fake, drain):
    operation = make_operation()
    seed_contacts(operation, 3, language="fr")
    seed_contacts(operation, 2, language="ar")
    token, _ = token_for(Role.RESPONDER, "r@example.org")
    client = send_app.test_client()
    broadcast_id = create(client, token).json["id"]
    client.post(f"/api/v1/broadcasts/{broadcast_id}/send", headers=auth(token))
    drain()
    progress = client.get(f"/api/v1/broadcasts/{broadcast_id}", headers=auth(token)).json
    assert progress["progress"]["total"]["sent"] == 5
    assert progress["progress"]["languages"]["ar"]["sent"] == 2

    rows = db.session.execute(
        select(Message.id, Message.external_id, Message.language)
        .where(Message.broadcast_id == broadcast_id)
        .order_by(Message.id)
    ).all()
    ar_rows = [r for r in rows if r.language == "ar"]
    fr_rows = [r for r in rows if r.language == "fr"]

    def callback(row, status, **extra):
        params = {
            "MessageSid": row.external_id,
            "AccountSid": ACCOUNT_SID,
            "MessageStatus": status,
            **extra,
        }
        path = f"/webhooks/twilio/status?message_id={row.id}"
        signature = sign(f"http://localhost{path}", params)
        assert (
            client.post(path, data=params, headers={"X-Twilio-Signature": signature}).status_code
            == 200
        )

    callback(fr_rows[0], "delivered")
    callback(fr_rows[1], "delivered")
    callback(fr_rows[1], "read")
    callback(fr_rows[1], "sent")  # late, ignored
    callback(ar_rows[0], "undelivered", ErrorCode="30003")
    callback(ar_rows[1], "delivered")

    progress = client.get(f"/api/v1/broadcasts/{broadcast_id}", headers=auth(token)).json
    fr_counts = progress["progress"]["languages"]["fr"]
    ar_counts = progress["progress"]["languages"]["ar"]
    assert (fr_counts["sent"], fr_counts["delivered"], fr_counts["read"]) == (3, 2, 1)
    assert (ar_counts["failed"], ar_counts["delivered"], ar_counts["sent"]) == (1, 1, 1)
    assert progress["progress"]["total"]["queued"] == 0


def test_audience_filters_and_exclusions(send_app, fake, drain):
    operation = make_operation()
    other = make_operation(slug="kalemie", name="Kalemie")
    in_area = seed_contacts(operation, 2, area="nyiragongo", tags=["site-3", "women"])
    seed_contacts(operation, 2, area="karisimbi", tags=["site-1"])
    stale = seed_contacts(
        operation, 1, area="nyiragongo", tags=["site-3"], last_seen_at=utcnow() - timedelta(days=40)
    )
    seed_contacts(other, 2, area="nyiragongo", tags=["site-3"])  # another operation
    opted_out = seed_contacts(operation, 1, area="nyiragongo", tags=["site-3"])
    sensitive = seed_contacts(operation, 1, area="nyiragongo", tags=["site-3"])
    db.session.execute(
        ContactChannel.__table__.update()
        .where(ContactChannel.__table__.c.contact_id == opted_out[0])
        .values(opted_out_at=utcnow())
    )
    db.session.add(
        Case(
            reference="GOM-1",
            operation_id=operation.id,
            contact_id=sensitive[0],
            sensitive_category="gbv",
            sector="protection",
        )
    )
    db.session.commit()
    token, _ = token_for(Role.RESPONDER, "r@example.org")
    client = send_app.test_client()

    audience = {"areas": ["nyiragongo"], "tags": ["site-3"], "last_seen_days": 30}
    preview = create(client, token, audience=audience).json["preview"]
    assert preview["recipients"] == 2
    audience["include_sensitive"] = True
    refused = create(client, token, audience=audience)  # a responder may not reach them
    assert refused.status_code == 403
    admin, _ = token_for(Role.ADMIN, "a@example.org")
    assert create(client, admin, audience=audience).json["preview"]["recipients"] == 3
    by_sector = create(
        client, admin, audience={"sectors": ["protection"], "include_sensitive": True}
    ).json
    assert by_sector["preview"]["recipients"] == 0  # a sensitive case is never case history
    assert (
        create(client, token, audience={"contacts": in_area + stale}).json["preview"]["recipients"]
        == 3
    )
    bad = create(client, token, audience={"planet": "mars"})
    assert bad.status_code == 400
    assert "planet" in bad.json["error"]


def test_large_broadcast_needs_a_second_user(send_app, fake, drain):
    send_app.config["BROADCAST_APPROVAL_THRESHOLD"] = 2
    operation = make_operation()
    seed_contacts(operation, 3)
    author, _ = token_for(Role.RESPONDER, "author@example.org")
    second, second_id = token_for(Role.ADMIN, "second@example.org")
    viewer, _ = token_for(Role.VIEWER, "viewer@example.org")
    client = send_app.test_client()
    broadcast_id = create(client, author).json["id"]
    assert create(client, viewer).status_code == 403

    response = client.post(f"/api/v1/broadcasts/{broadcast_id}/send", headers=auth(author))
    assert response.json["status"] == "pending_approval"
    assert response.json["preview"]["needs_approval"] is True
    drain()
    assert fake.sent == []
    own = client.post(f"/api/v1/broadcasts/{broadcast_id}/approve", headers=auth(author))
    assert own.status_code == 403
    approved = client.post(f"/api/v1/broadcasts/{broadcast_id}/approve", headers=auth(second))
    assert approved.json == {"status": "sending", "approved_by": second_id}
    drain()
    assert len(fake.sent) == 3


def test_cancel_mid_way_stops_what_is_not_sent(send_app, fake, drain):
    operation = make_operation()
    seed_contacts(operation, 30)
    token, _ = token_for(Role.RESPONDER, "r@example.org")
    client = send_app.test_client()
    broadcast_id = create(client, token).json["id"]
    client.post(f"/api/v1/broadcasts/{broadcast_id}/send", headers=auth(token))
    drain(["broadcasts"])  # fan-out done, nothing sent yet
    first = db.session.scalars(
        select(Message.id).where(Message.broadcast_id == broadcast_id).order_by(Message.id)
    ).first()
    from mcof_comms.outbound.dispatch import Dispatcher

    Dispatcher().run([[first]])  # one went out before the cancel
    response = client.post(f"/api/v1/broadcasts/{broadcast_id}/cancel", headers=auth(token))
    assert response.json == {"status": "canceled", "canceled_messages": 29}
    drain()
    assert len(fake.sent) == 1
    progress = client.get(f"/api/v1/broadcasts/{broadcast_id}", headers=auth(token)).json
    assert progress["progress"]["total"]["canceled"] == 29
    assert progress["status"] == "canceled"


def test_fan_out_resumes_from_its_cursor_without_duplicates(send_app, fake, drain):
    operation = make_operation()
    contacts = seed_contacts(operation, 25)
    token, _ = token_for(Role.RESPONDER, "r@example.org")
    client = send_app.test_client()
    broadcast_id = create(client, token).json["id"]
    broadcast = db.session.get_one(Broadcast, broadcast_id)
    broadcast.status = BroadcastStatus.SENDING
    db.session.commit()
    import mcof_comms.broadcasts.jobs as fan_out_jobs

    fan_out_jobs.BATCH, saved = 10, fan_out_jobs.BATCH
    try:
        fan_out_broadcast(broadcast_id)
        # as if the process died after its second batch: rewind the state, keep the rows
        db.session.execute(
            Broadcast.__table__.update()
            .where(Broadcast.__table__.c.id == broadcast_id)
            .values(status="sending", cursor_contact_id=contacts[14])
        )
        db.session.commit()
        fan_out_broadcast(broadcast_id)
    finally:
        fan_out_jobs.BATCH = saved
    count = db.session.scalar(
        select(func.count()).select_from(Message).where(Message.broadcast_id == broadcast_id)
    )
    assert count == 25
    drain()
    assert len(fake.sent) == 25
    assert len({m.to for m in fake.sent}) == 25


def test_whatsapp_broadcast_outside_the_window_uses_the_template(send_app, fake, drain):
    operation = make_operation()
    old = utcnow() - timedelta(days=3)
    seed_contacts(operation, 2, channels=(Channel.WHATSAPP,), last_inbound_at=old)
    fresh = seed_contacts(operation, 1, channels=(Channel.WHATSAPP,))
    token, _ = token_for(Role.RESPONDER, "r@example.org")
    client = send_app.test_client()
    broadcast_id = create(
        client,
        token,
        templates={"fr": {"content_sid": "HX" + "1" * 32, "variables": {"1": "{date}"}}},
    ).json["id"]
    client.post(f"/api/v1/broadcasts/{broadcast_id}/send", headers=auth(token))
    drain()
    templated = [m for m in fake.sent if m.content_sid]
    assert len(templated) == 2
    assert templated[0].content_variables == {"1": "3 décembre 2026"}
    assert templated[0].body is None
    free = [m for m in fake.sent if not m.content_sid]
    assert len(free) == 1
    routes = dict(
        db.session.execute(
            select(Message.contact_id, Message.route).where(Message.broadcast_id == broadcast_id)
        ).all()
    )
    assert routes[fresh[0]].value == "text"
    assert sorted(r.value for r in routes.values()) == ["template", "template", "text"]
    assert all(
        m.status is MessageStatus.ACCEPTED
        for m in db.session.scalars(select(Message).where(Message.broadcast_id == broadcast_id))
    )


def test_schedule_is_read_in_the_operation_s_time_zone_and_waits(send_app, fake, drain):
    from mcof_comms.outbound.services import requeue_stuck_outbound

    operation = make_operation(timezone="Africa/Lubumbashi")  # UTC+2
    seed_contacts(operation, 2)
    token, _ = token_for(Role.RESPONDER, "r@example.org")
    client = send_app.test_client()
    created = create(client, token, scheduled_at="2099-12-02T08:00")
    assert created.json["scheduled_at"] == "2099-12-02T06:00:00+00:00"
    broadcast_id = created.json["id"]
    response = client.post(f"/api/v1/broadcasts/{broadcast_id}/send", headers=auth(token))
    assert response.json["status"] == "scheduled"
    drain()
    assert fake.sent == []
    db.session.execute(
        Broadcast.__table__.update()
        .where(Broadcast.__table__.c.id == broadcast_id)
        .values(scheduled_at=utcnow() - timedelta(minutes=1))
    )
    db.session.commit()
    assert requeue_stuck_outbound(0) >= 1  # the sweeper starts a broadcast that is due
    drain()
    assert len(fake.sent) == 2
    assert db.session.get_one(Broadcast, broadcast_id).status is BroadcastStatus.SENT
