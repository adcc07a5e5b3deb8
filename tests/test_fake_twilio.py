"""The loopback fake answers the real twilio-python client the way Twilio does."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from mcof_comms.channels.twilio.client import make_twilio_client
from tests.fake_twilio import FakeTwilio

ROOT = Path(__file__).resolve().parents[1]
SMS_FROM = "+15005550006"
TO = "+15005550010"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def client(fake: FakeTwilio) -> Client:
    return make_twilio_client(fake.account_sid, fake.auth_token, api_base_url=fake.base_url)


def test_create_returns_a_realistic_resource(fake: FakeTwilio, client: Client) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    message = client.messages.create(
        to=TO, from_=SMS_FROM, body="a" * 161, status_callback="https://hooks.example.org/s/42"
    )
    assert re.fullmatch(r"SM[0-9a-f]{32}", message.sid)
    assert message.status == "queued"
    assert message.num_segments == "2"
    assert (message.to, message.from_, message.body) == (TO, SMS_FROM, "a" * 161)
    assert message.direction == "outbound-api"
    assert message.date_created is not None
    assert before <= message.date_created <= datetime.now(UTC)
    assert message.date_sent is None
    assert message.account_sid == fake.account_sid

    (request,) = fake.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    assert request.auth_user == fake.account_sid
    assert request.form == {
        "To": TO,
        "From": SMS_FROM,
        "Body": "a" * 161,
        "StatusCallback": "https://hooks.example.org/s/42",
    }
    assert request.headers["User-Agent"].startswith("twilio-python/9.")
    assert [m.sid for m in fake.sent] == [message.sid]
    assert fake.count_to(TO) == 1


def test_messaging_service_send_is_accepted_without_segments(
    fake: FakeTwilio, client: Client
) -> None:
    service = "MG" + "1" * 32
    message = client.messages.create(to=TO, messaging_service_sid=service, body="hello")
    assert message.status == "accepted"
    assert message.num_segments == "0"
    assert message.messaging_service_sid == service
    assert message.from_ is None


def test_template_and_media_fields_are_recorded(fake: FakeTwilio, client: Client) -> None:
    client.messages.create(
        to="whatsapp:+50937001234",
        from_="whatsapp:+14155238886",
        content_sid="HX" + "2" * 32,
        content_variables='{"1": "Ana"}',
    )
    media = client.messages.create(
        to=TO,
        from_=SMS_FROM,
        media_url=["https://cdn.example.org/a.png", "https://cdn.example.org/b.png"],
    )
    template, mms = fake.sent
    assert template.content_sid == "HX" + "2" * 32
    assert template.content_variables == {"1": "Ana"}
    assert template.body is None
    assert mms.sid.startswith("MM")
    assert media.num_media == "2"
    assert mms.media_urls == ["https://cdn.example.org/a.png", "https://cdn.example.org/b.png"]


def test_lookups_by_status_callback(fake: FakeTwilio, client: Client) -> None:
    for message_id in (7, 8, 8):
        client.messages.create(
            to=TO,
            from_=SMS_FROM,
            body="x",
            status_callback=f"https://hooks.example.org/twilio/status?message_id={message_id}",
        )
    assert len(fake.by_callback("https://hooks.example.org/twilio/status?message_id=8")) == 2
    assert len(fake.by_callback_containing("message_id=7")) == 1
    assert fake.by_callback_containing("message_id=9") == []


def test_wrong_auth_token_is_401(fake: FakeTwilio) -> None:
    bad = make_twilio_client(fake.account_sid, "wrong-token", api_base_url=fake.base_url)
    with pytest.raises(TwilioRestException) as caught:
        bad.messages.create(to=TO, from_=SMS_FROM, body="x")
    assert (caught.value.status, caught.value.code) == (401, 20003)
    assert fake.sent == []


def test_missing_content_is_rejected_like_twilio(client: Client) -> None:
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=TO, from_=SMS_FROM)
    assert (caught.value.status, caught.value.code) == (400, 21602)
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=TO, body="x")
    assert caught.value.code == 21603


def test_fetch(fake: FakeTwilio, client: Client) -> None:
    created = client.messages.create(to=TO, from_=SMS_FROM, body="hi")
    fake.set_status(created.sid, "delivered")
    fetched = client.messages(created.sid).fetch()
    assert (fetched.sid, fetched.status, fetched.body) == (created.sid, "delivered", "hi")
    assert fetched.date_sent is not None
    with pytest.raises(TwilioRestException) as caught:
        client.messages("SM" + "f" * 32).fetch()
    assert (caught.value.status, caught.value.code) == (404, 20404)


def test_list_filters_by_to_from_and_date_sent(fake: FakeTwilio, client: Client) -> None:
    a = client.messages.create(to=TO, from_=SMS_FROM, body="a")
    b = client.messages.create(to=TO, from_="+15005550007", body="b")
    client.messages.create(to="+15005550011", from_=SMS_FROM, body="c")
    now = datetime.now(UTC)
    fake.set_status(a.sid, "sent", sent_at=now - timedelta(hours=2))
    fake.set_status(b.sid, "sent", sent_at=now)

    assert {m.sid for m in client.messages.list(to=TO)} == {a.sid, b.sid}
    assert [m.sid for m in client.messages.list(to=TO, from_=SMS_FROM)] == [a.sid]
    recent = client.messages.list(to=TO, date_sent_after=now - timedelta(minutes=5))
    assert [m.sid for m in recent] == [b.sid]
    older = client.messages.list(to=TO, date_sent_before=now - timedelta(hours=1))
    assert [m.sid for m in older] == [a.sid]
    sent_query = next(r for r in fake.requests if "DateSent>" in r.query)
    assert sent_query.method == "GET"
    assert sent_query.query["To"] == [TO]


def test_list_is_newest_first_and_pages(fake: FakeTwilio, client: Client) -> None:
    sids = [client.messages.create(to=TO, from_=SMS_FROM, body=str(i)).sid for i in range(7)]
    for i, sid in enumerate(sids):
        fake.set_status(sid, "sent", sent_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(i))
    listed = client.messages.list(to=TO, limit=7, page_size=3)
    assert [m.sid for m in listed] == list(reversed(sids))
    pages = [r for r in fake.requests if r.method == "GET"]
    assert len(pages) == 3
    assert client.messages.list(to=TO, limit=2)[0].sid == sids[-1]


def test_fail_for_one_destination(fake: FakeTwilio, client: Client) -> None:
    fake.fail_for("+15005550009", status=400, code=21211)
    fake.fail_for("+15005550008", status=400, code=21610, times=1)
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to="+15005550009", from_=SMS_FROM, body="x")
    assert (caught.value.status, caught.value.code) == (400, 21211)
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to="+15005550008", from_=SMS_FROM, body="x")
    assert caught.value.code == 21610
    client.messages.create(to="+15005550008", from_=SMS_FROM, body="x")  # times=1 used up
    client.messages.create(to=TO, from_=SMS_FROM, body="x")
    assert [m.to for m in fake.sent] == ["+15005550008", TO]


def test_fail_next_requests(fake: FakeTwilio, client: Client) -> None:
    fake.fail_next(2, status=429, code=20429)
    for _ in range(2):
        with pytest.raises(TwilioRestException) as caught:
            client.messages.create(to=TO, from_=SMS_FROM, body="x")
        assert (caught.value.status, caught.value.code) == (429, 20429)
    client.messages.create(to=TO, from_=SMS_FROM, body="x")

    fake.fail_next(1, status=500, code=20500)
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=TO, from_=SMS_FROM, body="x")
    assert (caught.value.status, caught.value.code) == (500, 20500)

    fake.fail_next(1, status=502, code=None, json_body=False)
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=TO, from_=SMS_FROM, body="x")
    assert caught.value.status == 502
    assert fake.count_to(TO) == 1


def test_fail_next_any_request_hits_reads(fake: FakeTwilio, client: Client) -> None:
    fake.fail_next(1, status=503, code=20503, any_request=True)
    # twilio-python raises a bare TwilioException carrying the response for a failed page
    with pytest.raises(TwilioException) as caught:
        client.messages.list(to=TO)
    assert caught.value.args[1].status_code == 503
    assert client.messages.list(to=TO) == []


def test_whatsapp_window_closed_refuses_free_form_only(fake: FakeTwilio, client: Client) -> None:
    to = "whatsapp:+50937001234"
    fake.whatsapp_window_closed(to)
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=to, from_="whatsapp:+14155238886", body="free form")
    assert (caught.value.status, caught.value.code) == (400, 63016)
    client.messages.create(
        to=to, from_="whatsapp:+14155238886", content_sid="HX" + "3" * 32, content_variables="{}"
    )
    fake.whatsapp_window_open(to)
    client.messages.create(to=to, from_="whatsapp:+14155238886", body="free form")
    assert fake.count_to(to) == 2


def test_drop_after_accept_stores_the_message_but_the_client_hears_nothing(
    fake: FakeTwilio, client: Client
) -> None:
    fake.drop_after_accept(1, to=TO)
    with pytest.raises(requests.ConnectionError):
        client.messages.create(to=TO, from_=SMS_FROM, body="x")
    assert fake.count_to(TO) == 1
    assert len([r for r in fake.requests if r.method == "POST"]) == 1  # nothing resent it
    client.messages.create(to=TO, from_=SMS_FROM, body="y")  # the next one is answered
    assert fake.count_to(TO) == 2


def test_latency_is_honoured(fake: FakeTwilio, client: Client) -> None:
    client.messages.create(to=TO, from_=SMS_FROM, body="warm")  # open the keep-alive connection
    fake.latency = 0.2
    started = time.monotonic()
    client.messages.create(to=TO, from_=SMS_FROM, body="x")
    assert time.monotonic() - started >= 0.2


def test_concurrent_requests_overlap(fake: FakeTwilio, client: Client) -> None:
    fake.latency = 0.3
    errors: list[BaseException] = []

    def send(i: int) -> None:
        try:
            client.messages.create(to=f"+1500555{i:04d}", from_=SMS_FROM, body="x")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(12)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert errors == []
    assert len(fake.sent) == 12
    assert elapsed < 1.5  # one after another would take 3.6 s
    assert fake.max_in_flight >= 6


def test_region_and_edge_environment_cannot_escape_loopback(
    fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    client = make_twilio_client(fake.account_sid, fake.auth_token, api_base_url=fake.base_url)
    assert client.region == "ie1"
    client.messages.create(to=TO, from_=SMS_FROM, body="x")
    assert fake.count_to(TO) == 1


def test_reset_forgets_everything(fake: FakeTwilio, client: Client) -> None:
    fake.fail_for("+15005550009")
    client.messages.create(to=TO, from_=SMS_FROM, body="x")
    fake.reset()
    assert (fake.sent, fake.requests) == ([], [])
    client.messages.create(to="+15005550009", from_=SMS_FROM, body="x")
    assert fake.count_to("+15005550009") == 1


def test_runs_as_its_own_process() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_twilio", "--port", "0", "--latency-ms", "50"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = dict(process.stdout.readline().strip().split("=", 1) for _ in range(3))
        base_url = lines["FAKE_TWILIO_URL"]
        client = make_twilio_client(
            lines["FAKE_TWILIO_ACCOUNT_SID"], lines["FAKE_TWILIO_AUTH_TOKEN"], api_base_url=base_url
        )
        started = time.monotonic()
        client.messages.create(to=TO, from_=SMS_FROM, body="x")
        assert time.monotonic() - started >= 0.05
        assert requests.get(f"{base_url}/_fake/stats", timeout=5).json()["sent"] == 1
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
        if process.stdout is not None:
            process.stdout.close()


def test_max_kept_bounds_memory_but_counts_everything() -> None:
    with FakeTwilio(max_kept=3) as fake:
        client = make_twilio_client(fake.account_sid, fake.auth_token, api_base_url=fake.base_url)
        sids = [client.messages.create(to=TO, from_=SMS_FROM, body=str(i)).sid for i in range(5)]
        assert [m.sid for m in fake.sent] == sids[2:]
        assert fake.accepted_count == 5
        with pytest.raises(TwilioRestException):
            client.messages(sids[0]).fetch()
        assert client.messages(sids[4]).fetch().body == "4"
