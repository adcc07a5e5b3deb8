"""A Twilio-compatible Messages API on loopback, for tests and benchmarks.

It answers what twilio-python 9.13 sends (create, fetch, list with filters and paging) with
realistic JSON, checks HTTP Basic auth, and can inject failures: per destination, for the next N
requests, a closed WhatsApp window, latency, and "accept, then drop the connection" (a crash after
Twilio accepted). Use it in-process::

    with FakeTwilio() as fake:
        client = make_twilio_client(fake.account_sid, fake.auth_token, api_base_url=fake.base_url)

or as its own process: ``python -m tests.fake_twilio --port 0 --latency-ms 100`` prints
``FAKE_TWILIO_URL=http://127.0.0.1:PORT`` and serves until killed (``GET /_fake/stats`` counts).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from mcof_comms.outbound.segments import count_segments

DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_AUTH_TOKEN = "fake-twilio-auth-token"
API = "/2010-04-01/Accounts"
_MESSAGES = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages(?:/(?P<sid>[^/]+))?\.json$"
)

ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21211: "Invalid 'To' Phone Number",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21611: "This 'From' number has exceeded the maximum number of queued messages",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    63016: (
        "Failed to send freeform message because you are outside the allowed window. "
        "If you are using WhatsApp, please use a Message Template."
    ),
}


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request the fake received; ``form`` keeps the first value of each field."""

    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, str]
    form_lists: dict[str, list[str]]
    auth_user: str | None
    headers: dict[str, str]


@dataclass
class SentMessage:
    """A message the fake accepted; ``resource`` is the JSON it returned (kept up to date)."""

    sid: str
    to: str
    from_: str | None
    body: str | None
    messaging_service_sid: str | None
    content_sid: str | None
    content_variables: dict[str, Any] | None
    media_urls: list[str]
    status_callback: str | None
    form: dict[str, list[str]]
    resource: dict[str, Any]
    created_at: datetime
    sent_at: datetime | None = None


@dataclass
class _Rule:
    status: int
    code: int | None
    message: str
    remaining: int | None  # None: until cleared
    json_body: bool = True
    any_request: bool = False  # False: Messages create only


def _error_body(status: int, code: int | None, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


_SMART = str.maketrans(
    {
        "\u201c": '"',
        "\u201d": '"',
        "\u2018": "'",
        "\u2019": "'",
        "\u02bc": "'",  # modifier letter apostrophe, as Ukrainian keyboards type it
        "\u2013": "-",
        "\u2014": "-",
        "\u00a0": " ",
    }
)


def _smart_encoded(body: str) -> str:
    """A few of the substitutions in Twilio's Smart Encoding character list."""
    return body.translate(_SMART).replace("\u2026", "...")


def _rfc2822(moment: datetime | None) -> str | None:
    return None if moment is None else format_datetime(moment, usegmt=True)


def _parse_filter_date(value: str) -> tuple[datetime, bool]:
    """Parse ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM:SSZ``; the flag says it was a whole day."""
    if len(value) == 10:
        day = date.fromisoformat(value)
        return datetime(day.year, day.month, day.day, tzinfo=UTC), True
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC), False


class FakeTwilio:
    """Thread-safe fake of Twilio's Messages resource on 127.0.0.1 (ephemeral port by default)."""

    def __init__(
        self,
        *,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        latency: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        record_requests: bool = True,
        max_kept: int | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.latency = latency
        #: Rewrite quotes, dashes and spaces in stored bodies, as Twilio's Smart Encoding does.
        self.smart_encoding = False
        #: Over TLS, a dropped answer ends with bytes that are no TLS record (a TLS error
        #: while the client reads), not a clean close.
        self.garbled_drops = False
        self.record_requests = record_requests
        self.max_kept = max_kept  # keep only the newest messages (long benchmark runs)
        self.accepted_count = 0
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._request_count = 0
        self._sent: deque[SentMessage] = deque()
        self._by_sid: dict[str, SentMessage] = {}
        self._to_rules: dict[str, _Rule] = {}
        self._next_rules: list[_Rule] = []
        self._closed_windows: set[str] = set()
        self._drops: list[tuple[str | None, int]] = []  # (to or None for any, remaining)
        self._in_flight = 0
        self.max_in_flight = 0
        self._server = _Server((host, port), _handler_for(self))
        self._tls = tls is not None
        if tls is not None:  # HTTPS, as the real API: the handshake happens on accept
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"{'https' if self._tls else 'http'}://{host}:{port}"

    def start(self) -> FakeTwilio:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.02},  # shutdown() waits up to one poll
                name="fake-twilio",
                daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def reset(self) -> None:
        """Forget requests, messages and rules (latency stays)."""
        with self._lock:
            self._requests.clear()
            self._request_count = 0
            self._sent.clear()
            self._by_sid.clear()
            self.accepted_count = 0
            self._to_rules.clear()
            self._next_rules.clear()
            self._closed_windows.clear()
            self._drops.clear()
            self.max_in_flight = 0

    # --- failure injection -----------------------------------------------------------------

    def fail_for(
        self,
        to: str,
        *,
        status: int = 400,
        code: int | None = 21211,
        message: str | None = None,
        times: int | None = None,
    ) -> None:
        """Refuse creates to ``to`` (``times`` times, or until ``clear_failures``)."""
        text = message or ERROR_MESSAGES.get(code or 0, "Error")
        with self._lock:
            self._to_rules[to] = _Rule(status, code, text, times)

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 429,
        code: int | None = 20429,
        message: str | None = None,
        json_body: bool = True,
        any_request: bool = False,
    ) -> None:
        """Refuse the next ``n`` creates (any request with ``any_request``), e.g. 429 or 500.

        ``json_body=False`` answers with an HTML page, as a proxy in front of Twilio might.
        """
        text = message or ERROR_MESSAGES.get(code or 0, "Error")
        with self._lock:
            self._next_rules.append(_Rule(status, code, text, n, json_body, any_request))

    def whatsapp_window_closed(self, to: str) -> None:
        """Free-form ``Body`` to this WhatsApp address gets 400/63016; ``ContentSid`` works."""
        address = to if to.startswith("whatsapp:") else f"whatsapp:{to}"
        with self._lock:
            self._closed_windows.add(address)

    def whatsapp_window_open(self, to: str) -> None:
        address = to if to.startswith("whatsapp:") else f"whatsapp:{to}"
        with self._lock:
            self._closed_windows.discard(address)

    def drop_after_accept(self, n: int = 1, *, to: str | None = None) -> None:
        """Accept the next ``n`` creates (to ``to``, or any), then close without answering."""
        with self._lock:
            self._drops.append((to, n))

    def clear_failures(self) -> None:
        with self._lock:
            self._to_rules.clear()
            self._next_rules.clear()
            self._closed_windows.clear()
            self._drops.clear()

    # --- state changes a test may want -----------------------------------------------------

    def set_status(
        self,
        sid: str,
        status: str,
        *,
        error_code: int | None = None,
        sent_at: datetime | None = None,
    ) -> None:
        """Move a message on, as Twilio would (``sent`` and later set its date sent)."""
        with self._lock:
            message = self._by_sid[sid]
            now = datetime.now(UTC)
            if status in {"sending", "sent", "delivered", "undelivered", "failed", "read"}:
                message.sent_at = sent_at or message.sent_at or now
            message.resource.update(
                status=status,
                error_code=error_code,
                date_updated=_rfc2822(now),
                date_sent=_rfc2822(message.sent_at),
            )

    # --- inspection ------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        with self._lock:
            return self._request_count

    @property
    def sent(self) -> list[SentMessage]:
        with self._lock:
            return list(self._sent)

    def count_to(self, to: str) -> int:
        with self._lock:
            return sum(1 for m in self._sent if m.to == to)

    def sent_to(self, to: str) -> list[SentMessage]:
        with self._lock:
            return [m for m in self._sent if m.to == to]

    def by_callback(self, url: str) -> list[SentMessage]:
        """Messages created with exactly this ``StatusCallback``."""
        with self._lock:
            return [m for m in self._sent if m.status_callback == url]

    def by_callback_containing(self, fragment: str) -> list[SentMessage]:
        """Messages whose ``StatusCallback`` contains ``fragment`` (e.g. ``"/status/42"``)."""
        with self._lock:
            return [m for m in self._sent if m.status_callback and fragment in m.status_callback]

    def get(self, sid: str) -> SentMessage | None:
        with self._lock:
            return self._by_sid.get(sid)

    # --- request handling (called from handler threads) ------------------------------------

    def _record(self, record: RecordedRequest | None) -> None:
        with self._lock:
            self._request_count += 1
            if record is not None:
                self._requests.append(record)

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _take_next_rule(self, is_create: bool) -> _Rule | None:
        with self._lock:
            for rule in self._next_rules:
                if (rule.any_request or is_create) and (rule.remaining or 0) > 0:
                    rule.remaining = (rule.remaining or 0) - 1
                    if rule.remaining == 0:
                        self._next_rules.remove(rule)
                    return rule
        return None

    def _take_to_rule(self, to: str) -> _Rule | None:
        with self._lock:
            rule = self._to_rules.get(to)
            if rule is None:
                return None
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    del self._to_rules[to]
            return rule

    def _take_drop(self, to: str) -> bool:
        with self._lock:
            for i, (target, remaining) in enumerate(self._drops):
                if target is None or target == to:
                    if remaining <= 1:
                        del self._drops[i]
                    else:
                        self._drops[i] = (target, remaining - 1)
                    return True
        return False

    def _window_closed(self, to: str) -> bool:
        with self._lock:
            return to in self._closed_windows

    def _create(self, account: str, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        def one(name: str) -> str | None:
            values = form.get(name)
            return values[0] if values else None

        to, from_, service = one("To"), one("From"), one("MessagingServiceSid")
        body, content_sid = one("Body"), one("ContentSid")
        media = form.get("MediaUrl", [])
        if not to:
            return 400, _error_body(400, 21604, ERROR_MESSAGES[21604])
        if not from_ and not service:
            return 400, _error_body(400, 21603, ERROR_MESSAGES[21603])
        if not body and not content_sid and not media:
            return 400, _error_body(400, 21602, ERROR_MESSAGES[21602])
        if body and len(body) > 1600:
            return 400, _error_body(400, 21617, ERROR_MESSAGES[21617])
        rule = self._take_to_rule(to)
        if rule is not None:
            return rule.status, _error_body(rule.status, rule.code, rule.message)
        if to.startswith("whatsapp:") and not content_sid and self._window_closed(to):
            return 400, _error_body(400, 63016, ERROR_MESSAGES[63016])
        variables_raw = one("ContentVariables")
        variables = json.loads(variables_raw) if variables_raw else None
        now = datetime.now(UTC)
        sid = ("MM" if media else "SM") + secrets.token_hex(16)
        if service:
            status, segments = "accepted", "0"  # the service picks a sender later
        elif to.startswith("whatsapp:"):
            status, segments = "queued", "1"
        else:
            status, segments = "queued", str(max(1, count_segments(body or "").segments))
        uri = f"{API}/{account}/Messages/{sid}"
        resource: dict[str, Any] = {
            "account_sid": account,
            "api_version": "2010-04-01",
            "body": _smart_encoded(body or "") if self.smart_encoding else body or "",
            "date_created": _rfc2822(now),
            "date_sent": None,
            "date_updated": _rfc2822(now),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_,
            "messaging_service_sid": service,
            "num_media": str(len(media)),
            "num_segments": segments,
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": status,
            "subresource_uris": {
                "media": f"{uri}/Media.json",
                "feedback": f"{uri}/Feedback.json",
            },
            "to": to,
            "uri": f"{uri}.json",
        }
        message = SentMessage(
            sid=sid,
            to=to,
            from_=from_,
            body=body,
            messaging_service_sid=service,
            content_sid=content_sid,
            content_variables=variables,
            media_urls=list(media),
            status_callback=one("StatusCallback"),
            form=form,
            resource=resource,
            created_at=now,
        )
        with self._lock:
            self._sent.append(message)
            self._by_sid[sid] = message
            self.accepted_count += 1
            if self.max_kept is not None and len(self._sent) > self.max_kept:
                del self._by_sid[self._sent.popleft().sid]
            return 201, dict(resource)

    def _fetch(self, account: str, sid: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            message = self._by_sid.get(sid)
            if message is not None and message.resource["account_sid"] == account:
                return 200, dict(message.resource)
        text = f"The requested resource {API}/{account}/Messages/{sid}.json was not found"
        return 404, _error_body(404, 20404, text)

    def _list(self, account: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        def one(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        tests: list[Callable[[SentMessage], bool]] = []
        if (to := one("To")) is not None:
            tests.append(lambda m: m.to == to)
        if (from_ := one("From")) is not None:
            tests.append(lambda m: m.from_ == from_)
        try:
            for name in ("DateSent>", "DateSent<", "DateSent"):
                if (raw := one(name)) is not None:
                    tests.append(_date_sent_test(name, raw))
        except ValueError:
            return 400, _error_body(400, 20001, "Invalid DateSent filter")
        page_size = min(int(one("PageSize") or 50), 1000)
        page = int(one("Page") or 0)
        token = one("PageToken")
        offset = int(token[2:]) if token and token.startswith("PA") else page * page_size
        with self._lock:
            matches = [
                m
                for m in self._sent
                if m.resource["account_sid"] == account and all(t(m) for t in tests)
            ]
            # newest first, like Twilio (by date sent, unsent ones by creation)
            matches.sort(key=lambda m: m.sent_at or m.created_at, reverse=True)
            rows = [dict(m.resource) for m in matches[offset : offset + page_size]]
        base = f"{API}/{account}/Messages.json"
        filters = {k: v[0] for k, v in query.items() if k not in {"Page", "PageSize", "PageToken"}}

        def page_uri(number: int, start: int) -> str:
            params = {**filters, "PageSize": page_size, "Page": number, "PageToken": f"PA{start}"}
            return f"{base}?{urlencode(params)}"

        has_next = offset + page_size < len(matches)
        return 200, {
            "messages": rows,
            "end": offset + len(rows) - 1 if rows else offset,
            "first_page_uri": page_uri(0, 0),
            "next_page_uri": page_uri(page + 1, offset + page_size) if has_next else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": page_uri(page - 1, max(0, offset - page_size)) if page else None,
            "start": offset,
            "uri": page_uri(page, offset),
        }


def _date_sent_test(name: str, raw: str) -> Callable[[SentMessage], bool]:
    """Twilio's ``DateSent>``/``DateSent<``/``DateSent`` (inclusive) filters.

    Messages with no date sent yet (queued, accepted) match no date filter: an assumption about
    the real API, and the reason ``TwilioSender.find_sent`` also asks without one.
    """
    moment, whole_day = _parse_filter_date(raw)
    end = moment + timedelta(days=1) if whole_day else moment + timedelta(seconds=1)

    def test(message: SentMessage) -> bool:
        sent = message.sent_at
        if sent is None:
            return False
        if name == "DateSent>":
            return sent >= moment
        if name == "DateSent<":
            return sent < end
        return moment <= sent < end

    return test


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # the default 5 drops connections when 100 threads open at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client hung up (timeouts are part of the tests)."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_for(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as against the real API
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall
        server_version = "FakeTwilio/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send_json(self, status: int, payload: dict[str, Any]) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _send_html(self, status: int) -> None:
            raw = b"<html><body><h1>Bad gateway</h1></body></html>"
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _auth_user(self) -> tuple[str | None, str | None]:
            header = self.headers.get("Authorization", "")
            if not header.startswith("Basic "):
                return None, None
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return None, None
            return user, password

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def _handle(self, method: str) -> None:
            fake._enter()
            try:
                self._handle_inner(method)
            finally:
                fake._leave()

        def _handle_inner(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            split = urlsplit(self.path)
            query = parse_qs(split.query, keep_blank_values=True)
            form = parse_qs(raw, keep_blank_values=True) if method == "POST" else {}
            user, password = self._auth_user()
            fake._record(
                RecordedRequest(
                    method=method,
                    path=split.path,
                    query=query,
                    form={k: v[0] for k, v in form.items()},
                    form_lists=form,
                    auth_user=user,
                    headers=dict(self.headers.items()),
                )
                if fake.record_requests
                else None
            )
            if fake.latency > 0:
                time.sleep(fake.latency)
            if split.path == "/_fake/stats" and method == "GET":
                return self._send_json(
                    200, {"sent": fake.accepted_count, "requests": fake.request_count}
                )
            match = _MESSAGES.match(split.path)
            if match is None:
                return self._send_json(404, _error_body(404, 20404, ERROR_MESSAGES[20404]))
            account, sid = match["account"], match["sid"]
            if user != account or account != fake.account_sid or password != fake.auth_token:
                return self._send_json(401, _error_body(401, 20003, ERROR_MESSAGES[20003]))
            is_create = method == "POST" and sid is None
            rule = fake._take_next_rule(is_create)
            if rule is not None:
                if not rule.json_body:
                    return self._send_html(rule.status)
                return self._send_json(
                    rule.status, _error_body(rule.status, rule.code, rule.message)
                )
            if is_create:
                status, payload = fake._create(account, form)
                if status == 201 and fake._take_drop(payload["to"]):
                    self.close_connection = True  # accepted, but the client never hears it
                    if fake.garbled_drops and isinstance(self.connection, ssl.SSLSocket):
                        # bytes that are no TLS record: the client's TLS layer fails mid-answer
                        with socket.socket(fileno=os.dup(self.connection.fileno())) as raw:
                            raw.sendall(b"\x17\x03\x03\x00\x04junk")
                    return None
                return self._send_json(status, payload)
            if method == "GET" and sid is not None:
                return self._send_json(*fake._fetch(account, sid))
            if method == "GET":
                return self._send_json(*fake._list(account, query))
            return self._send_json(405, _error_body(405, 20004, "Method not allowed"))

    return Handler


def iter_stats_lines(fake: FakeTwilio) -> Iterator[str]:  # pragma: no cover - CLI helper
    yield f"FAKE_TWILIO_URL={fake.base_url}"
    yield f"FAKE_TWILIO_ACCOUNT_SID={fake.account_sid}"
    yield f"FAKE_TWILIO_AUTH_TOKEN={fake.auth_token}"


def main(argv: list[str] | None = None) -> int:
    """Serve the fake until SIGTERM/SIGINT; print its URL and credentials first."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN)
    args = parser.parse_args(argv)
    fake = FakeTwilio(
        account_sid=args.account_sid,
        auth_token=args.auth_token,
        latency=args.latency_ms / 1000,
        host=args.host,
        port=args.port,
        record_requests=False,  # a long-running process must not grow without bound
        max_kept=100_000,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    fake.start()
    for line in iter_stats_lines(fake):
        sys.stdout.write(line + "\n")
    sys.stdout.flush()
    stop.wait()
    fake.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
