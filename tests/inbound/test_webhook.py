"""The inbound webhook: signatures, parsing, persistence, idempotency and processing."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from mcof_comms.extensions import db
from mcof_comms.models import (
    Case,
    Channel,
    Contact,
    ContactChannel,
    Direction,
    Message,
    MessageStatus,
)
from tests.conftest import ACCOUNT_SID, inbound_params, sign

PATH = "/webhooks/twilio/messages"


def count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_valid_signature_persists_and_answers_empty_twiml(app_ctx, twilio_post):
    response = twilio_post(PATH, inbound_params("Where is the water point?"))

    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert response.get_data(as_text=True).endswith("<Response />")
    message = db.session.scalars(select(Message)).one()
    assert message.direction is Direction.IN
    assert message.status is MessageStatus.RECEIVED
    assert message.body == "Where is the water point?"
    assert message.contact.phone == "+50937001234"
    assert message.contact.region == "HT"


def test_invalid_signature_is_403_and_stores_nothing(app_ctx, twilio_post, caplog):
    params = inbound_params("secret text", sender="+50937009999")
    forged = sign("http://localhost" + PATH, params, token="not-our-token")
    with caplog.at_level(logging.WARNING):
        response = twilio_post(PATH, params, signature=forged)

    assert response.status_code == 403
    assert count(Message) == 0
    assert "rejected" in caplog.text
    assert "secret text" not in caplog.text
    assert "50937009999" not in caplog.text


def test_missing_signature_is_403(app_ctx, twilio_post):
    response = twilio_post(PATH, inbound_params(), signature="")
    assert response.status_code == 403
    assert count(Message) == 0


def test_tampered_body_is_403(app_ctx, twilio_post):
    params = inbound_params("original")
    signature = sign("http://localhost" + PATH, params)
    params["Body"] = "tampered"
    assert twilio_post(PATH, params, signature=signature).status_code == 403


def test_other_account_is_403(app_ctx, twilio_post):
    response = twilio_post(PATH, inbound_params(AccountSid="AC" + "f" * 32))
    assert response.status_code == 403


def test_messaging_service_pool_number_validates(app_ctx, twilio_post):
    params = inbound_params(To="+15005550099", MessagingServiceSid="MG" + "b" * 32)
    response = twilio_post(PATH, params)
    assert response.status_code == 200
    assert db.session.scalars(select(Message)).one().messaging_service_sid == "MG" + "b" * 32


def test_behind_a_proxy_validates_against_public_base_url(make_app):
    app = make_app(public_base_url="https://hooks.example.org")
    params = inbound_params()
    good = sign("https://hooks.example.org" + PATH + "?op=haiti", params)
    internal = sign("http://localhost" + PATH + "?op=haiti", params)
    client = app.test_client()
    ok = client.post(PATH + "?op=haiti", data=params, headers={"X-Twilio-Signature": good})
    bad = client.post(PATH + "?op=haiti", data=params, headers={"X-Twilio-Signature": internal})
    assert ok.status_code == 200
    assert bad.status_code == 403


def test_behind_a_proxy_validates_with_forwarded_headers(make_app):
    app = make_app(proxy_count=1, public_base_url=None)
    params = inbound_params()
    signature = sign("https://hooks.example.org" + PATH, params)
    response = app.test_client().post(
        PATH,
        data=params,
        headers={
            "X-Twilio-Signature": signature,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "hooks.example.org",
        },
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"From": "+50937001234", "Body": "x"}, "message_sid_missing"),
        ({"MessageSid": "SM" + "1" * 32, "Body": "x"}, "from_missing"),
        ({"MessageSid": "SM" + "2" * 32, "From": "+1234", "Body": "x"}, "from_not_a_phone_number"),
        ({"MessageSid": "SM" + "3" * 32, "From": "hello world!", "Body": "x"}, "from_not_a_ph"),
        ({"MessageSid": "SM" + "4" * 32, "From": "+50937001234", "NumMedia": "two"}, "num_media"),
        ({"MessageSid": "SM" + "5" * 32, "From": "+50937001234", "NumMedia": "1"}, "media_url"),
        ({"MessageSid": "SM" + "6" * 32, "From": "+50937001234", "Latitude": "north"}, "latitude"),
        ({"MessageSid": "SM" + "7" * 32, "From": "+50937001234", "Body": "x" * 5001}, "body_too"),
        ({"MessageSid": "SM" + "8" * 80, "From": "+50937001234", "Body": "x"}, "message_sid_too"),
        ({"MessageSid": "SM" + "9" * 32, "From": "+50937001234", "To": "+1" * 40}, "to_too_long"),
    ],
)
def test_signed_posts_the_parser_cannot_take_are_stored_for_review(
    app_ctx, twilio_post, params, reason
):
    """Twilio does not retry a 4xx: a signed post answered 400 would be a message lost."""
    params = {"AccountSid": ACCOUNT_SID, **params}
    response = twilio_post(PATH, params)

    assert response.status_code == 200
    message = db.session.scalars(select(Message)).one()
    assert message.needs_review
    assert any(r.startswith(reason) for r in message.triage["intake"]["review"])
    assert message.status is MessageStatus.RECEIVED  # triaged like any other message
    assert twilio_post(PATH, params).status_code == 200  # a retry is still one message
    assert count(Message) == 1


def test_a_review_flag_outlasts_triage_and_reaches_an_admin(app_ctx, twilio_post, run_jobs):
    from tests.api.test_api import cli_token

    params = inbound_params("We need water", NumMedia="1")  # MediaUrl0 never came
    twilio_post(PATH, params)
    run_jobs()
    message = db.session.scalars(select(Message).where(Message.direction == Direction.IN)).one()
    assert message.status is MessageStatus.PROCESSED
    assert message.needs_review
    assert message.triage["intake"] == {"review": ["media_url_missing"]}
    assert message.case_id is not None
    assert db.session.get(Case, message.case_id).needs_review  # in the review queue

    token = cli_token(app_ctx, "admin")
    shown = app_ctx.test_client().get(
        f"/api/v1/messages/{message.id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert shown.status_code == 200
    assert shown.get_json()["needs_review"] is True
    assert shown.get_json()["triage"]["intake"]["review"] == ["media_url_missing"]


def test_an_empty_signed_post_is_stored_too(app_ctx, twilio_post):
    assert twilio_post(PATH, {"AccountSid": ACCOUNT_SID}).status_code == 200
    assert db.session.scalars(select(Message)).one().needs_review


def test_whatsapp_payload_with_media_and_location(app_ctx, twilio_post):
    params = inbound_params(
        "",
        sender="whatsapp:+50937001234",
        To="whatsapp:+14155238886",
        ProfileName="Marie",
        WaId="50937001234",
        NumMedia="2",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM1/Media/ME1",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM1/Media/ME2",
        MediaContentType1="audio/ogg",
        Latitude="18.5392",
        Longitude="-72.3350",
    )
    assert twilio_post(PATH, params).status_code == 200

    message = db.session.scalars(select(Message)).one()
    assert message.channel is Channel.WHATSAPP
    assert [m["content_type"] for m in message.media] == ["image/jpeg", "audio/ogg"]
    assert (message.latitude, message.longitude) == (18.5392, -72.335)
    assert message.contact.name == "Marie"
    assert message.contact.channel(Channel.WHATSAPP).address == "whatsapp:+50937001234"


def test_sms_and_whatsapp_of_one_number_are_one_contact(app_ctx, twilio_post):
    twilio_post(PATH, inbound_params("by sms", sender="+509 3700-1234"))
    twilio_post(PATH, inbound_params("by whatsapp", sender="whatsapp:+50937001234"))

    contact = db.session.scalars(select(Contact)).one()
    assert {c.channel for c in contact.channels} == {Channel.SMS, Channel.WHATSAPP}
    assert contact.channel(Channel.SMS).address == "+50937001234"
    assert contact.channel(Channel.WHATSAPP).last_inbound_at is not None
    assert contact.last_inbound_at is not None
    assert count(Message) == 2


def test_whatsapp_user_without_phone_number_is_kept_opaque(app_ctx, twilio_post):
    response = twilio_post(PATH, inbound_params("hi", sender="whatsapp:US.ABC123XYZ"))
    assert response.status_code == 200
    channel = db.session.scalars(select(ContactChannel)).one()
    assert channel.address == "whatsapp:US.ABC123XYZ"
    assert channel.contact.phone is None


def test_duplicate_message_sid_gives_one_message_and_one_job(app_ctx, twilio_post, redis):
    params = inbound_params("need food")
    first = twilio_post(PATH, params)
    second = twilio_post(PATH, params)

    assert first.status_code == second.status_code == 200
    assert count(Message) == 1
    from mcof_comms.jobs import INBOUND, get_backend

    assert get_backend().queue(INBOUND).count == 1


def test_inbound_is_processed_by_a_worker_and_never_received_again(app_ctx, twilio_post, run_jobs):
    twilio_post(PATH, inbound_params("Is the clinic open?"))
    message = db.session.scalars(select(Message)).one()
    assert message.status is MessageStatus.RECEIVED

    run_jobs()
    db.session.expire_all()
    assert message.status is MessageStatus.PROCESSED
    assert message.processed_at is not None

    from mcof_comms.inbound.jobs import process_inbound_message

    process_inbound_message(message.id)  # a repeat finds it past RECEIVED
    db.session.expire_all()
    assert message.status is MessageStatus.PROCESSED


def test_database_down_answers_503(make_app):
    app = make_app(database_url="postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    params = inbound_params()
    response = app.test_client().post(
        PATH, data=params, headers={"X-Twilio-Signature": sign("http://localhost" + PATH, params)}
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"]
