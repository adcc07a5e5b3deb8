"""TwilioSender against the loopback fake, through the real twilio-python client."""

from __future__ import annotations

import logging
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import fakeredis
import pytest
from twilio.rest import Client

from mcof_comms.channels.base import (
    ChannelSender,
    FailureReason,
    OutboundRequest,
    PermanentSendError,
    SendResult,
    TransientSendError,
    failure_reason,
)
from mcof_comms.channels.twilio.client import PooledTwilioHttpClient, make_twilio_client
from mcof_comms.channels.twilio.sender import TwilioSender
from mcof_comms.outbound.ratelimit import RateLimiter
from mcof_comms.outbound.segments import count_segments
from tests.fake_twilio import FakeTwilio

SMS_FROM = "+15005550006"
WA_FROM = "whatsapp:+14155238886"
TO = "+50937001234"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def client(fake: FakeTwilio) -> Client:
    return make_twilio_client(fake.account_sid, fake.auth_token, api_base_url=fake.base_url)


@pytest.fixture
def sender(client: Client) -> TwilioSender:
    return TwilioSender(client)


@pytest.fixture(params=["blocking", "fan-out"])
def send(request: pytest.FixtureRequest) -> Callable[[TwilioSender, OutboundRequest], SendResult]:
    """One send through either transport: both must give the same outcomes and error kinds."""
    if request.param == "blocking":
        return lambda sender, outbound: sender.send(outbound)

    def through_fan_out(sender: TwilioSender, outbound: OutboundRequest) -> SendResult:
        ((_, outcome),) = list(sender.send_many([outbound], max_in_flight=2))
        if isinstance(outcome, Exception):
            raise outcome
        assert isinstance(outcome, SendResult)
        return outcome

    return through_fan_out


def sms(
    message_id: int = 1, to: str = TO, body: str = "Water point opens at 9."
) -> OutboundRequest:
    return OutboundRequest(
        message_id=message_id,
        to=to,
        body=body,
        from_=SMS_FROM,
        status_callback=f"https://hooks.example.org/twilio/status?message_id={message_id}",
    )


def test_twilio_sender_is_a_channel_sender(sender: TwilioSender) -> None:
    assert isinstance(sender, ChannelSender)


def test_send_sms(
    send: Callable[[TwilioSender, OutboundRequest], SendResult],
    fake: FakeTwilio,
    sender: TwilioSender,
) -> None:
    result = send(sender, sms(body="x" * 200))
    assert result == SendResult(sid=fake.sent[0].sid, provider_status="queued", num_segments=2)
    (request,) = fake.requests
    assert request.form == {
        "To": TO,
        "From": SMS_FROM,
        "Body": "x" * 200,
        "StatusCallback": "https://hooks.example.org/twilio/status?message_id=1",
    }


def test_send_template_through_messaging_service(
    send: Callable[[TwilioSender, OutboundRequest], SendResult],
    fake: FakeTwilio,
    sender: TwilioSender,
) -> None:
    request = OutboundRequest(
        message_id=2,
        to="whatsapp:" + TO,
        messaging_service_sid="MG" + "4" * 32,
        content_sid="HX" + "5" * 32,
        content_variables={"1": "Aïcha", "2": "9:00"},
    )
    result = send(sender, request)
    assert (result.provider_status, result.num_segments) == ("accepted", 0)
    (form,) = [r.form for r in fake.requests]
    assert form["ContentVariables"] == '{"1":"Aïcha","2":"9:00"}'
    assert "Body" not in form
    assert "From" not in form
    assert fake.sent[0].content_variables == {"1": "Aïcha", "2": "9:00"}


def test_send_media(
    send: Callable[[TwilioSender, OutboundRequest], SendResult],
    fake: FakeTwilio,
    sender: TwilioSender,
) -> None:
    urls = ("https://cdn.example.org/map.png", "https://cdn.example.org/list.pdf")
    send(sender, OutboundRequest(message_id=3, to=TO, from_=SMS_FROM, media_urls=urls))
    assert fake.requests[0].form_lists["MediaUrl"] == list(urls)


@pytest.mark.parametrize(
    "request_",
    [
        OutboundRequest(message_id=1, to=TO, body="x"),
        OutboundRequest(message_id=1, to=TO, body="x", from_=SMS_FROM, messaging_service_sid="MG1"),
    ],
)
def test_exactly_one_sender_is_required(
    send: Callable[[TwilioSender, OutboundRequest], SendResult],
    fake: FakeTwilio,
    sender: TwilioSender,
    request_: OutboundRequest,
) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        send(sender, request_)
    assert fake.requests == []


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (21211, FailureReason.INVALID_NUMBER),
        (21610, FailureReason.UNSUBSCRIBED),
        (21614, FailureReason.LANDLINE),
        (21635, FailureReason.LANDLINE),
        (21408, FailureReason.BLOCKED),
        (12345, FailureReason.UNKNOWN),
    ],
)
def test_refusals_are_permanent(
    send: Callable[[TwilioSender, OutboundRequest], SendResult],
    fake: FakeTwilio,
    sender: TwilioSender,
    code: int,
    reason: FailureReason,
) -> None:
    fake.fail_for(TO, status=400, code=code)
    with pytest.raises(PermanentSendError) as caught:
        send(sender, sms())
    assert (caught.value.reason, caught.value.code) == (reason, code)


def test_closed_whatsapp_window_is_permanent_outside_window(
    send: Callable[[TwilioSender, OutboundRequest], SendResult],
    fake: FakeTwilio,
    sender: TwilioSender,
) -> None:
    fake.whatsapp_window_closed(TO)
    request = OutboundRequest(message_id=1, to="whatsapp:" + TO, body="hi", from_=WA_FROM)
    with pytest.raises(PermanentSendError) as caught:
        send(sender, request)
    assert (caught.value.reason, caught.value.code) == (FailureReason.OUTSIDE_WINDOW, 63016)
    template = OutboundRequest(
        message_id=1, to="whatsapp:" + TO, from_=WA_FROM, content_sid="HX" + "6" * 32
    )
    assert send(sender, template).sid.startswith("SM")


@pytest.mark.parametrize(
    ("status", "code", "json_body", "reason", "expected_code"),
    [
        (429, 20429, True, FailureReason.RATE_LIMITED, 20429),
        (500, 20500, True, FailureReason.PROVIDER_ERROR, 20500),
        (503, None, True, FailureReason.PROVIDER_ERROR, None),
        (502, None, False, FailureReason.PROVIDER_ERROR, 502),  # HTML from a proxy
        (400, 21611, True, FailureReason.QUEUE_OVERFLOW, 21611),
    ],
)
def test_retryable_failures_are_transient(
    send: Callable[[TwilioSender, OutboundRequest], SendResult],
    fake: FakeTwilio,
    sender: TwilioSender,
    status: int,
    code: int | None,
    json_body: bool,
    reason: FailureReason,
    expected_code: int | None,
) -> None:
    fake.fail_next(1, status=status, code=code, json_body=json_body)
    with pytest.raises(TransientSendError) as caught:
        send(sender, sms())
    assert (caught.value.reason, caught.value.code) == (reason, expected_code)
    # a 500, 502 or 504 may come after Twilio created it: the job checks before resending
    assert caught.value.ambiguous is (status in (500, 502, 504))
    assert fake.sent == []
    assert send(sender, sms()).sid  # the next attempt goes through


def test_queue_overflow_asks_to_slow_down(
    send: Callable[[TwilioSender, OutboundRequest], SendResult],
    fake: FakeTwilio,
    sender: TwilioSender,
) -> None:
    fake.fail_next(1, status=400, code=21611)
    with pytest.raises(TransientSendError) as caught:
        send(sender, sms())
    assert caught.value.retry_after == 60.0


def test_bad_credentials_are_not_blamed_on_the_recipient(
    send: Callable[[TwilioSender, OutboundRequest], SendResult], fake: FakeTwilio
) -> None:
    bad = TwilioSender(make_twilio_client(fake.account_sid, "nope", api_base_url=fake.base_url))
    with pytest.raises(TransientSendError) as caught:
        send(bad, sms())
    assert (caught.value.code, caught.value.reason) == (20003, FailureReason.PROVIDER_ERROR)


def test_read_timeout_is_ambiguous(
    send: Callable[[TwilioSender, OutboundRequest], SendResult], fake: FakeTwilio
) -> None:
    client = make_twilio_client(
        fake.account_sid, fake.auth_token, api_base_url=fake.base_url, timeout=0.2
    )
    fake.latency = 0.5
    with pytest.raises(TransientSendError) as caught:
        send(TwilioSender(client), sms())
    assert caught.value.ambiguous is True
    assert caught.value.code is None
    deadline = time.monotonic() + 3
    while not fake.sent and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake.count_to(TO) == 1  # the fake took it after all: exactly why it is ambiguous


def test_connection_refused_is_not_ambiguous(
    send: Callable[[TwilioSender, OutboundRequest], SendResult],
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_twilio_client("AC" + "0" * 32, "t", api_base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(TransientSendError) as caught:
        send(TwilioSender(client), sms())
    assert caught.value.ambiguous is False


def test_crash_after_accept_is_reconciled_with_find_sent(
    send: Callable[[TwilioSender, OutboundRequest], SendResult],
    fake: FakeTwilio,
    sender: TwilioSender,
) -> None:
    since = datetime.now(UTC)
    fake.drop_after_accept(1)
    with pytest.raises(TransientSendError) as caught:
        send(sender, sms(body="Distribution tomorrow"))
    assert caught.value.ambiguous is True
    found = sender.find_sent(TO, "Distribution tomorrow", since)
    assert found is not None
    assert found.sid == fake.sent[0].sid  # so the job records it instead of sending again
    assert fake.count_to(TO) == 1


def test_find_sent_sees_queued_and_sent_messages(fake: FakeTwilio, sender: TwilioSender) -> None:
    since = datetime.now(UTC)
    queued = sender.send(sms(body="queued one"))
    sent = sender.send(sms(body="sent one"))
    fake.set_status(sent.sid, "delivered")
    assert sender.find_sent(TO, "queued one", since) == SendResult(queued.sid, "queued", 1)
    assert sender.find_sent(TO, "sent one", since) == SendResult(sent.sid, "delivered", 1)
    assert sender.find_sent(TO, "never sent", since) is None
    assert sender.find_sent("+50937009999", "queued one", since) is None
    found_any = sender.find_sent(TO, None, since)  # template: any body
    assert found_any is not None
    assert found_any.sid in {queued.sid, sent.sid}


def test_find_sent_never_returns_a_sid_another_row_holds(
    fake: FakeTwilio, sender: TwilioSender
) -> None:
    since = datetime.now(UTC)
    earlier = sender.send(sms(body="OK"))  # the same text, sent before to the same person
    assert sender.find_sent(TO, "OK", since, exclude={earlier.sid}) is None
    again = sender.send(sms(body="OK"))
    found = sender.find_sent(TO, "OK", since, exclude={earlier.sid})
    assert found is not None
    assert found.sid == again.sid


def test_find_sent_ignores_messages_before_since(fake: FakeTwilio, sender: TwilioSender) -> None:
    sender.send(sms(body="old"))
    later = datetime.now(UTC) + timedelta(minutes=10)  # beyond the clock-skew allowance
    assert sender.find_sent(TO, "old", later) is None
    with pytest.raises(ValueError, match="timezone"):
        sender.find_sent(TO, "old", datetime.now())  # noqa: DTZ005 - the naive case is the test


def test_find_sent_failure_is_transient(fake: FakeTwilio, sender: TwilioSender) -> None:
    fake.fail_next(1, status=503, code=20503, any_request=True)
    with pytest.raises(TransientSendError):
        sender.find_sent(TO, "x", datetime.now(UTC))


def test_send_many_overlaps_requests(fake: FakeTwilio, sender: TwilioSender) -> None:
    fake.latency = 0.1
    requests_ = [sms(i, to=f"+5093700{i:04d}") for i in range(60)]
    started = time.monotonic()
    outcomes = list(sender.send_many(requests_, max_in_flight=20))
    elapsed = time.monotonic() - started
    assert elapsed < 2.0  # one at a time would take 6 s
    assert sorted(r.message_id for r, _ in outcomes) == list(range(60))
    assert all(isinstance(o, SendResult) for _, o in outcomes)
    assert len({o.sid for _, o in outcomes if isinstance(o, SendResult)}) == 60
    # each answer belongs to its own request, however the requests interleaved
    assert all(fake.get(o.sid).to == r.to for r, o in outcomes)  # type: ignore[union-attr]
    assert fake.max_in_flight >= 10


def test_send_many_reports_each_failure_with_its_request(
    fake: FakeTwilio, sender: TwilioSender
) -> None:
    fake.fail_for("+50937000003", code=21610)
    fake.fail_for("+50937000005", status=500, code=20500)
    requests_ = [sms(i, to=f"+5093700{i:04d}") for i in range(8)]
    outcomes = {r.message_id: o for r, o in sender.send_many(requests_, max_in_flight=4)}
    assert isinstance(outcomes[3], PermanentSendError)
    assert outcomes[3].reason is FailureReason.UNSUBSCRIBED
    assert isinstance(outcomes[5], TransientSendError)
    assert sum(isinstance(o, SendResult) for o in outcomes.values()) == 6


def test_send_many_reads_the_input_on_the_callers_thread(sender: TwilioSender) -> None:
    readers: set[str] = set()
    hooks: set[str] = set()

    def source() -> Iterator[OutboundRequest]:
        for i in range(20):
            readers.add(threading.current_thread().name)
            yield sms(i, to=f"+5093700{i:04d}")

    def before_send(request: OutboundRequest) -> None:
        hooks.add(threading.current_thread().name)

    outcomes = list(sender.send_many(source(), max_in_flight=5, before_send=before_send))
    assert len(outcomes) == 20
    assert readers == {threading.current_thread().name}
    assert hooks
    assert threading.current_thread().name not in hooks  # the hook may block: not the caller


def test_send_many_before_send_failure_skips_the_send(
    fake: FakeTwilio, sender: TwilioSender
) -> None:
    def before_send(request: OutboundRequest) -> None:
        if request.message_id == 2:
            raise TimeoutError("rate limit")

    requests_ = [sms(i, to=f"+5093700{i:04d}") for i in range(4)]
    outcomes = dict(sender.send_many(requests_, max_in_flight=2, before_send=before_send))
    assert isinstance(outcomes[requests_[2]], TimeoutError)
    assert fake.count_to("+50937000002") == 0
    assert len(fake.sent) == 3


def test_send_many_sequential_mode(fake: FakeTwilio, sender: TwilioSender) -> None:
    requests_ = [sms(i, to=f"+5093700{i:04d}") for i in range(5)]
    outcomes = list(sender.send_many(requests_, max_in_flight=1))
    assert [r.message_id for r, _ in outcomes] == [0, 1, 2, 3, 4]
    assert len(fake.sent) == 5


def test_send_many_stopped_early_starts_no_new_sends(
    fake: FakeTwilio, sender: TwilioSender
) -> None:
    fake.latency = 0.1
    requests_ = [sms(i, to=f"+5093700{i:04d}") for i in range(60)]
    outcomes = sender.send_many(requests_, max_in_flight=4)
    next(outcomes)
    outcomes.close()  # waits for the sends in flight
    sent = len(fake.sent)
    time.sleep(0.3)
    assert len(fake.sent) == sent
    assert sent <= 8


def test_client_rewrites_every_twilio_host_only() -> None:
    http = PooledTwilioHttpClient(api_base_url="http://127.0.0.1:9999/prefix")
    for url in (
        "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
        "https://api.dublin.ie1.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
    ):
        assert http.rewrite_url(url) == (
            "http://127.0.0.1:9999/prefix/2010-04-01/Accounts/AC1/Messages.json"
        )
    assert http.rewrite_url("https://content.twilio.com/v1/Content?PageSize=5") == (
        "http://127.0.0.1:9999/prefix/v1/Content?PageSize=5"
    )
    assert http.rewrite_url("https://example.org/twilio.com") == "https://example.org/twilio.com"
    assert http.rewrite_url("https://nottwilio.com/x") == "https://nottwilio.com/x"
    plain = PooledTwilioHttpClient()
    assert plain.rewrite_url("https://api.twilio.com/x") == "https://api.twilio.com/x"


def test_client_pool_is_sized_for_threads() -> None:
    client = make_twilio_client("AC" + "0" * 32, "t", pool_size=64)
    http = client.http_client
    assert isinstance(http, PooledTwilioHttpClient)
    assert http.session is not None
    for scheme in ("https://", "http://"):
        adapter = http.session.get_adapter(scheme + "api.twilio.com")
        assert adapter._pool_maxsize == 64  # type: ignore[attr-defined]


def test_no_phone_number_or_body_reaches_the_logs(
    fake: FakeTwilio, sender: TwilioSender, caplog: pytest.LogCaptureFixture
) -> None:
    # urllib3 logs whole URLs at DEBUG (query strings included): keep it at INFO in production
    caplog.set_level(logging.DEBUG)
    sender.send(sms(body="secret body"))
    list(sender.send_many([sms(body="secret body")], max_in_flight=2))
    sender.find_sent(TO, "secret body", datetime.now(UTC))
    ours = [r for r in caplog.records if r.name.startswith(("mcof_comms", "twilio", "aiohttp"))]
    text = "\n".join(r.getMessage() for r in ours)
    assert ours  # something was logged at DEBUG ...
    assert TO.lstrip("+") not in text  # ... but not who
    assert "secret body" not in text


def test_failure_reason_covers_callback_codes() -> None:
    assert failure_reason(30003) is FailureReason.UNREACHABLE
    assert failure_reason(30005) is FailureReason.INVALID_NUMBER
    assert failure_reason(30006) is FailureReason.LANDLINE
    assert failure_reason(30007) is FailureReason.CARRIER_FILTERED
    assert failure_reason(30001) is FailureReason.QUEUE_OVERFLOW
    assert failure_reason(63014) is FailureReason.BLOCKED
    assert failure_reason(63018) is FailureReason.RATE_LIMITED
    assert failure_reason(63021) is FailureReason.CONTENT_REJECTED
    assert failure_reason(None) is FailureReason.UNKNOWN
    assert failure_reason(99999) is FailureReason.UNKNOWN


def test_send_many_paced_by_the_shared_rate_limit(fake: FakeTwilio, sender: TwilioSender) -> None:
    limiter = RateLimiter(fakeredis.FakeRedis(server=fakeredis.FakeServer()), prefix="test")
    requests_ = [sms(i, to=f"+5093700{i:04d}", body="x" * 200) for i in range(12)]  # 2 segments

    def pace(request: OutboundRequest) -> None:
        limiter.wait("sender:+15005550006", 10, cost=count_segments(request.body or "").segments)

    started = time.monotonic()
    outcomes = list(sender.send_many(requests_, max_in_flight=8, before_send=pace))
    elapsed = time.monotonic() - started
    assert all(isinstance(o, SendResult) for _, o in outcomes)
    # 10 segments/s: 5 messages in the first-second burst, the other 7 at 0.2 s each
    assert 1.2 <= elapsed < 2.5


def test_both_transports_go_through_the_environments_proxy_unless_no_proxy(
    send: Callable[[TwilioSender, OutboundRequest], SendResult],
    fake: FakeTwilio,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as probe:  # a proxy nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    def sender() -> TwilioSender:
        return TwilioSender(
            make_twilio_client(fake.account_sid, fake.auth_token, api_base_url=fake.base_url)
        )

    with pytest.raises(TransientSendError) as caught:
        send(sender(), sms())
    assert caught.value.ambiguous is False  # the proxy refused: nothing reached Twilio
    assert fake.sent == []
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert send(sender(), sms()).sid == fake.sent[0].sid


def test_find_sent_matches_a_body_twilio_smart_encoded(
    fake: FakeTwilio, sender: TwilioSender
) -> None:
    # a Messaging Service with Smart Encoding stores “quotes” and dashes as plain ones: a lost
    # answer must still be found there, or the retry would send the message a second time
    fake.smart_encoding = True
    since = datetime.now(UTC)
    text = "Distribution “demain” — 9 h… à l’école"
    fake.drop_after_accept(1)
    with pytest.raises(TransientSendError):
        sender.send(sms(body=text))
    assert fake.sent[0].resource["body"] == 'Distribution "demain" - 9 h... à l\'école'
    found = sender.find_sent(TO, text, since)
    assert found is not None
    assert found.sid == fake.sent[0].sid
    assert sender.find_sent(TO, "Distribution demain 10 h à l'école", since) is None


def test_find_sent_smart_encoding_apostrophes_and_emoji(
    fake: FakeTwilio, sender: TwilioSender
) -> None:
    fake.smart_encoding = True
    since = datetime.now(UTC)
    ukrainian = "Пунктʼ видачі відкрито"  # U+02BC, a letter to Unicode, ' to Twilio
    fake.drop_after_accept(1)
    with pytest.raises(TransientSendError):
        sender.send(sms(body=ukrainian))
    found = sender.find_sent(TO, ukrainian, since)
    assert found is not None
    assert found.sid == fake.sent[0].sid
    # symbols Smart Encoding leaves alone still tell two texts apart
    sender.send(sms(to="+50937009999", body="✅ Registered"))
    assert sender.find_sent("+50937009999", "❌ Registered", since) is None


def test_an_exact_body_wins_over_a_smart_encoding_lookalike(
    fake: FakeTwilio, sender: TwilioSender
) -> None:
    since = datetime.now(UTC)
    exact = sender.send(sms(body="Rendez-vous 9h - école"))
    sender.send(sms(body="Rendez-vous 9h — école"))  # newer, alike but for the dash
    found = sender.find_sent(TO, "Rendez-vous 9h - école", since)
    assert found is not None
    assert found.sid == exact.sid


def test_closing_the_fan_out_on_its_own_loop_thread_does_not_hang(
    fake: FakeTwilio, sender: TwilioSender
) -> None:
    # a generator left to the garbage collector may be finalized on any thread, the event
    # loop's included; waiting for outcomes there would stop the loop for good
    fake.latency = 0.05
    outcomes = sender.send_many([sms(i, to=f"+5093700{i:04d}") for i in range(20)], 4)
    next(outcomes)
    closed = threading.Event()

    def close_there() -> None:
        outcomes.close()
        closed.set()

    sender._loop().loop.call_soon_threadsafe(close_there)
    assert closed.wait(5)
    later = list(sender.send_many([sms(99, to="+50937009999")], 4))  # the loop still runs
    assert isinstance(later[0][1], SendResult)


def test_a_tls_connection_dropped_after_the_request_is_ambiguous(
    send: Callable[[TwilioSender, OutboundRequest], SendResult],
    certificate: tuple[str, str],
    tls_context: ssl.SSLContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certificate[0])
    with FakeTwilio(tls=tls_context) as server:
        server.garbled_drops = True
        server.drop_after_accept(1)  # accepted, then a TLS error while the answer is read
        client = make_twilio_client(
            server.account_sid, server.auth_token, api_base_url=server.base_url
        )
        with pytest.raises(TransientSendError) as caught:
            send(TwilioSender(client), sms())
        assert caught.value.ambiguous is True  # it went out: ask before sending again
        assert len(server.sent) == 1


@pytest.fixture
def tls_context(certificate: tuple[str, str]) -> ssl.SSLContext:
    """The fake's side of TLS, serving that certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", key, "-out", cert],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_both_transports_speak_tls_and_trust_what_requests_trusts(
    send: Callable[[TwilioSender, OutboundRequest], SendResult],
    certificate: tuple[str, str],
    tls_context: ssl.SSLContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cert = certificate[0]
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with FakeTwilio(tls=tls_context) as server:
        assert server.base_url.startswith("https://")

        def sender() -> TwilioSender:
            client = make_twilio_client(
                server.account_sid, server.auth_token, api_base_url=server.base_url
            )
            return TwilioSender(client)

        with pytest.raises(TransientSendError) as caught:
            send(sender(), sms())  # an unknown certificate: refused before anything was sent
        assert caught.value.ambiguous is False
        assert server.sent == []
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)  # as an egress proxy's CA would be
        assert send(sender(), sms()).sid == server.sent[0].sid
