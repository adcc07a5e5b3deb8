"""Send outbound messages with twilio-python, and turn its failures into our two error kinds."""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Collection, Generator, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests as requests_lib
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.rest import Client
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from mcof_comms.channels.base import (
    FailureReason,
    OutboundRequest,
    PermanentSendError,
    SendError,
    SendResult,
    TransientSendError,
    failure_reason,
)

logger = logging.getLogger(__name__)

#: Codes that arrive as HTTP 4xx but say "later", not "never".
TRANSIENT_CODES = frozenset({20003, 20429, 21611, 63018})

#: Seconds to wait after 21611 (this sender's queue at Twilio holds 10 h already): slow down.
QUEUE_OVERFLOW_RETRY_AFTER = 60.0

SendOutcome = SendResult | Exception


def classify_twilio_error(status: int | None, code: int | None) -> SendError:
    """Turn an HTTP status and Twilio error code from a REST call into our error kind.

    429/20429 and 503 are safe to retry: Twilio did not process the request; other 5xx are
    retried after checking that Twilio did not create the message anyway. Authentication
    failures (401/403, 20003) are ours, not the recipient's, so they are retried rather than
    recorded against the person. Any other 4xx is permanent for this message.
    """
    if code == 20429 or status == 429:
        return TransientSendError(code or 20429, reason=FailureReason.RATE_LIMITED)
    if status is not None and status >= 500:
        # 503 is Twilio declining the request; a 500, 502 or 504 from Twilio or a proxy in
        # front of it may come after the message was created, so check before resending
        return TransientSendError(
            code, reason=FailureReason.PROVIDER_ERROR, ambiguous=status in (500, 502, 504)
        )
    if status in (401, 403) or code in TRANSIENT_CODES:
        retry_after = QUEUE_OVERFLOW_RETRY_AFTER if code == 21611 else None
        return TransientSendError(code, retry_after, reason=failure_reason(code))
    return PermanentSendError(failure_reason(code), code)


def _never_reached_server(exc: requests_lib.RequestException) -> bool:
    """True when the connection failed before any byte of the request was sent."""
    if isinstance(exc, requests_lib.ConnectTimeout):
        return True
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        err = todo.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, NewConnectionError | ConnectTimeoutError):
            return True
        todo.extend([getattr(err, "reason", None), err.__cause__, err.__context__])
        todo.extend(a for a in getattr(err, "args", ()) if isinstance(a, BaseException))
    return False


def _transport_error(exc: requests_lib.RequestException) -> TransientSendError:
    ambiguous = not _never_reached_server(exc)
    return TransientSendError(None, reason=FailureReason.PROVIDER_ERROR, ambiguous=ambiguous)


def _create_kwargs(request: OutboundRequest) -> dict[str, Any]:
    if bool(request.from_) == bool(request.messaging_service_sid):
        raise ValueError("give exactly one of from_ and messaging_service_sid")
    kwargs: dict[str, Any] = {"to": request.to}
    if request.from_:
        kwargs["from_"] = request.from_
    if request.messaging_service_sid:
        kwargs["messaging_service_sid"] = request.messaging_service_sid
    if request.body is not None:
        kwargs["body"] = request.body
    if request.content_sid:
        kwargs["content_sid"] = request.content_sid
        if request.content_variables:
            kwargs["content_variables"] = json.dumps(
                dict(request.content_variables), ensure_ascii=False, separators=(",", ":")
            )
    if request.media_urls:
        kwargs["media_url"] = list(request.media_urls)
    if request.status_callback:
        kwargs["status_callback"] = request.status_callback
    return kwargs


def _result(instance: Any) -> SendResult:
    return SendResult(
        sid=str(instance.sid),
        provider_status=str(instance.status),
        num_segments=int(instance.num_segments or 0),
    )


class TwilioSender:
    """ChannelSender for one Twilio account, safe to share between threads."""

    def __init__(
        self,
        client: Client,
        *,
        find_limit: int = 50,
        clock_skew: timedelta = timedelta(seconds=120),
    ) -> None:
        self._client = client
        self._messages = client.api.v2010.account.messages
        self._find_limit = find_limit
        self._clock_skew = clock_skew

    def send(self, request: OutboundRequest) -> SendResult:
        """Create one message; raise PermanentSendError or TransientSendError on failure."""
        kwargs = _create_kwargs(request)
        try:
            instance = self._messages.create(**kwargs)
        except TwilioRestException as exc:
            raise classify_twilio_error(exc.status, _int_or_none(exc.code)) from exc
        except TwilioServiceException as exc:
            raise classify_twilio_error(exc.status, _int_or_none(exc.code)) from exc
        except requests_lib.RequestException as exc:
            raise _transport_error(exc) from exc
        except (TwilioException, ValueError) as exc:
            # a 2xx Twilio could not parse: it may well have taken the message
            raise TransientSendError(None, ambiguous=True) from exc
        logger.debug("twilio accepted message %s as %s", request.message_id, instance.sid)
        return _result(instance)

    def find_sent(
        self, to: str, body: str | None, since: datetime, *, exclude: Collection[str] = ()
    ) -> SendResult | None:
        """Return the newest outbound message to ``to`` created since ``since`` with this body.

        Two queries: messages *sent* since then (``DateSent>``), then the newest messages to that
        address whatever their date sent, because a message still queued at Twilio (a slow sender,
        a Messaging Service) has no date sent yet. ``body`` None matches any body (templates).
        ``since`` is widened by ``clock_skew`` (our clock against Twilio's, whose dates have
        whole seconds). Sids in ``exclude`` (already recorded on other rows) never match.
        Raises TransientSendError when Twilio cannot be asked right now.
        """
        if since.tzinfo is None:
            raise ValueError("since must be timezone-aware")
        since = (since.astimezone(UTC) - self._clock_skew).replace(microsecond=0)
        queries: list[dict[str, Any]] = [
            {"to": to, "date_sent_after": since, "limit": self._find_limit},
            {"to": to, "limit": self._find_limit},
        ]
        for query in queries:
            try:
                instances = self._messages.list(**query)
            except requests_lib.RequestException as exc:
                raise _transport_error(exc) from exc
            except TwilioException as exc:
                raise _read_error(exc) from exc
            for instance in instances:
                if instance.sid not in exclude and _matches(instance, body, since):
                    return _result(instance)
        return None

    def send_many(
        self,
        requests: Iterable[OutboundRequest],
        max_in_flight: int = 32,
        *,
        before_send: Callable[[OutboundRequest], None] | None = None,
    ) -> Generator[tuple[OutboundRequest, SendOutcome], None, None]:
        """Send with up to ``max_in_flight`` requests overlapping; yield as each one finishes.

        Each outcome is a SendResult or the exception ``send`` raised (PermanentSendError,
        TransientSendError, ValueError for a malformed request). Results come in completion order.
        ``requests`` is consumed on the caller's thread only (it may be a database cursor);
        ``before_send`` runs on the sending thread just before each send, e.g. the shared pace
        ``lambda r: limiter.wait(sender_key, rate, cost=count_segments(r.body).segments)``;
        if it raises, that exception is the outcome and nothing is sent. Keep the client's
        ``pool_size`` >= ``max_in_flight``. If the caller stops iterating early, sends already
        started finish but their outcomes are lost: treat those messages as ambiguous
        (``find_sent``).
        """
        if max_in_flight <= 1:
            for request in requests:
                yield request, self._send_one(request, before_send)
            return
        yield from _Fanout(self, before_send, max_in_flight).run(requests)

    def _send_one(
        self,
        request: OutboundRequest,
        before_send: Callable[[OutboundRequest], None] | None,
    ) -> SendOutcome:
        try:
            if before_send is not None:
                before_send(request)
            return self.send(request)
        except Exception as exc:  # handed to the caller, which decides per message
            return exc


class _Fanout:
    """Worker threads fed through a queue, so the caller's iterable stays on the caller's thread."""

    def __init__(
        self,
        sender: TwilioSender,
        before_send: Callable[[OutboundRequest], None] | None,
        max_in_flight: int,
    ) -> None:
        self._sender = sender
        self._before_send = before_send
        self._size = max_in_flight
        self._todo: queue.SimpleQueue[OutboundRequest | None] = queue.SimpleQueue()  # None: stop
        self._cancelled = threading.Event()
        self._done: queue.SimpleQueue[tuple[OutboundRequest, SendOutcome]] = queue.SimpleQueue()

    def _work(self) -> None:
        while True:
            item = self._todo.get()
            if item is None:
                return
            if self._cancelled.is_set():
                continue  # the caller stopped listening: do not start sends it will never see
            self._done.put((item, self._sender._send_one(item, self._before_send)))

    def run(
        self, requests: Iterable[OutboundRequest]
    ) -> Generator[tuple[OutboundRequest, SendOutcome], None, None]:
        threads = [
            threading.Thread(target=self._work, name=f"twilio-send-{i}", daemon=True)
            for i in range(self._size)
        ]
        for thread in threads:
            thread.start()
        try:
            in_flight = 0
            source = iter(requests)
            exhausted = False
            while True:
                # keep the workers busy: twice their number queued, so none waits on the caller
                while not exhausted and in_flight < 2 * self._size:
                    request = next(source, None)
                    if request is None:
                        exhausted = True
                        break
                    self._todo.put(request)
                    in_flight += 1
                if in_flight == 0:
                    return
                outcome = self._done.get()
                in_flight -= 1
                yield outcome
        finally:
            self._cancelled.set()
            for _ in threads:
                self._todo.put(None)
            for thread in threads:
                thread.join()


def _matches(instance: Any, body: str | None, since: datetime) -> bool:
    if not str(instance.direction or "").startswith("outbound"):
        return False
    created = instance.date_created
    if created is not None and created < since:
        return False
    return body is None or instance.body == body


def _read_error(exc: TwilioException) -> SendError:
    """Classify a failed read; a failed page is a bare TwilioException carrying the response."""
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        return classify_twilio_error(exc.status, _int_or_none(exc.code))
    response = exc.args[1] if len(exc.args) > 1 else None
    status = getattr(response, "status_code", None)
    code = None
    try:
        code = _int_or_none(json.loads(getattr(response, "text", "") or "{}").get("code"))
    except (ValueError, AttributeError):
        code = None
    if isinstance(status, int):
        return classify_twilio_error(status, code)
    return TransientSendError(None)


def _int_or_none(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None
