"""The quick-start path (SQLite, in-process queue on fakeredis) sends replies and broadcasts."""

from __future__ import annotations

import time

from flask_migrate import upgrade
from sqlalchemy import func, select

from mcof_comms import create_app
from mcof_comms.broadcasts.jobs import enqueue_fan_out
from mcof_comms.broadcasts.services import create_broadcast, request_send
from mcof_comms.extensions import db
from mcof_comms.models import Message, MessageKind, MessageStatus
from mcof_comms.outbound.services import enqueue_outbound, queue_outbound
from tests.broadcasts.conftest import make_operation, seed_contacts
from tests.conftest import make_settings


def test_embedded_default_sends_a_broadcast_and_a_reply(tmp_path, fake, migrated_database):
    app = create_app(
        make_settings(
            database_url=f"sqlite:///{tmp_path / 'quick.db'}",
            redis_url=None,
            twilio_api_base_url=fake.base_url,
            public_base_url="http://localhost",
        )
    )
    with app.app_context():
        upgrade()
        operation = make_operation()
        contacts = seed_contacts(operation, 3, tags=["site-3"])
        broadcast = create_broadcast(
            operation,
            actor=None,
            base_language="fr",
            translations={"fr": "Distribution le {d}."},
            variables={"d": {"type": "date", "value": "2026-12-03"}},
            audience={"tags": ["site-3"]},
        )
        request_send(broadcast, actor=None)
        db.session.commit()
        enqueue_fan_out(broadcast.id)
        from mcof_comms.models import Contact

        reply = queue_outbound(
            db.session.get_one(Contact, contacts[0]), "Merci.", kind=MessageKind.REPLY
        )
        db.session.commit()
        enqueue_outbound([reply.id])
        deadline = time.monotonic() + 30  # the default long-code pace is 1 message a second
        accepted = 0
        while time.monotonic() < deadline and accepted < 4:
            time.sleep(0.2)
            db.session.rollback()
            accepted = db.session.scalar(
                select(func.count()).where(Message.status == MessageStatus.ACCEPTED)
            )
        assert accepted == 4
        assert sorted(m.body for m in fake.sent).count("Distribution le 3 décembre 2026.") == 3
        db.engine.dispose()
