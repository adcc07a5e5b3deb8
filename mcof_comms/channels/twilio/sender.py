"""Send outbound messages with twilio-python, and turn its failures into our two error kinds."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import ssl
import threading
import unicodedata
import weakref
from collections.abc import Callable, Collection, Generator, Iterable
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
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
        # a refused certificate ends the handshake, before any byte of the request; other TLS
        # errors may come while the answer is read, after the request went out
        if isinstance(err, NewConnectionError | ConnectTimeoutError | ssl.SSLCertVerificationError):
            return True
        linked = [getattr(err, "reason", None), err.__cause__, err.__context__]
        todo.extend(e for e in linked if isinstance(e, BaseException))  # ssl's reason is a str
        todo.extend(a for a in getattr(err, "args", ()) if isinstance(a, BaseException))
    return False


def _transport_error(exc: requests_lib.RequestException) -> TransientSendError:
    ambiguous = not _never_reached_server(exc)
    return TransientSendError(None, reason=FailureReason.PROVIDER_ERROR, ambiguous=ambiguous)


def _aiohttp_error(exc: aiohttp.ClientError | TimeoutError) -> TransientSendError:
    """Connection refused or never opened: not sent. Anything later: the provider may have it."""
    never = isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
    return TransientSendError(None, reason=FailureReason.PROVIDER_ERROR, ambiguous=not never)


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
    """ChannelSender for one Twilio account, safe to share between threads.

    ``send`` and ``find_sent`` block on twilio-python's requests transport. ``send_many``
    overlaps requests on one event loop thread with its aiohttp transport (``async_client``,
    by default the twin of ``client``), opened on first use and kept for the process.
    """

    def __init__(
        self,
        client: Client,
        *,
        async_client: Client | None = None,
        find_limit: int = 50,
        clock_skew: timedelta = timedelta(seconds=120),
    ) -> None:
        self._client = client
        self._messages = client.api.v2010.account.messages
        self._async_client = async_client
        self._find_limit = find_limit
        self._clock_skew = clock_skew
        self._loop_lock = threading.Lock()
        self._loop_thread: _LoopThread | None = None

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
        alike: Any = None  # the first match but for what Smart Encoding rewrites
        for query in queries:
            try:
                instances = self._messages.list(**query)
            except requests_lib.RequestException as exc:
                raise _transport_error(exc) from exc
            except TwilioException as exc:
                raise _read_error(exc) from exc
            for instance in instances:
                if instance.sid in exclude or not _outbound_since(instance, since):
                    continue
                if body is None or instance.body == body:
                    return _result(instance)
                if alike is None and _skeleton(instance.body or "") == _skeleton(body) != "":
                    alike = instance
        return _result(alike) if alike is not None else None

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
        ``before_send`` runs just before each send, off the caller's thread, e.g. the shared pace
        ``lambda r: limiter.wait(sender_key, rate, cost=count_segments(r.body).segments)``;
        if it raises, that exception is the outcome and nothing is sent. If the caller stops
        iterating early, sends already started finish but their outcomes are lost: treat those
        messages as ambiguous (``find_sent``).
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

    async def send_async(self, request: OutboundRequest) -> SendResult:
        """``send`` on the event loop of ``send_many``: same outcomes, same error kinds."""
        kwargs = _create_kwargs(request)
        messages = self._async_messages()
        try:
            instance = await messages.create_async(**kwargs)
        except TwilioRestException as exc:
            raise classify_twilio_error(exc.status, _int_or_none(exc.code)) from exc
        except TwilioServiceException as exc:
            raise classify_twilio_error(exc.status, _int_or_none(exc.code)) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _aiohttp_error(exc) from exc
        except (TwilioException, ValueError) as exc:
            raise TransientSendError(None, ambiguous=True) from exc
        logger.debug("twilio accepted message %s as %s", request.message_id, instance.sid)
        return _result(instance)

    def _async_messages(self) -> Any:
        if self._async_client is None:
            from mcof_comms.channels.twilio.client import async_twin

            self._async_client = async_twin(self._client)
        return self._async_client.api.v2010.account.messages

    def _loop(self) -> _LoopThread:
        with self._loop_lock:
            if self._loop_thread is None or not self._loop_thread.alive():
                self._async_messages()  # the twin client exists before the loop can use it
                self._loop_thread = _LoopThread(self._async_client)
                weakref.finalize(self, self._loop_thread.stop)
            return self._loop_thread

    def close(self) -> None:
        """Close the fan-out connections and stop the loop thread; ``send`` stays usable."""
        with self._loop_lock:
            thread, self._loop_thread = self._loop_thread, None
        if thread is not None:
            thread.stop()


class _LoopThread:
    """An event loop on a daemon thread, for this process (a fork gets a new one)."""

    def __init__(self, client: Client | None) -> None:
        self.pid = os.getpid()
        self._client = client
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="twilio-send", daemon=True
        )
        self._thread.start()

    def alive(self) -> bool:
        return self.pid == os.getpid() and self._thread.is_alive()

    def stop(self) -> None:
        """Close the client's connections on the loop, then stop it (at exit too)."""
        if not self.alive() or self.loop.is_closed():
            return
        close = getattr(getattr(self._client, "http_client", None), "close", None)
        if close is not None:
            try:
                self.run(close()).result(timeout=5)
            except Exception:  # closing is best effort: the process may be on its way out
                logger.debug("closing the fan-out connections failed", exc_info=True)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()

    def on_loop_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, callback: Callable[..., Any], *args: Any) -> None:
        self.loop.call_soon_threadsafe(callback, *args)

    def run(self, coroutine: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)


_NOT_SENT = object()  # a request dropped because the caller stopped listening


class _Fanout:
    """Requests handed to the event loop as they are read; outcomes come back through a queue."""

    def __init__(
        self,
        sender: TwilioSender,
        before_send: Callable[[OutboundRequest], None] | None,
        max_in_flight: int,
    ) -> None:
        self._sender = sender
        self._before_send = before_send
        self._size = max_in_flight
        self._loop = sender._loop()
        self._slots: asyncio.Semaphore | None = None
        self._cancelled = False
        self._tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references
        self._done: queue.SimpleQueue[tuple[OutboundRequest, Any]] = queue.SimpleQueue()

    def _start(self, request: OutboundRequest) -> None:  # on the loop
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._size)
        task = asyncio.ensure_future(self._one(request, self._slots))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _one(self, request: OutboundRequest, slots: asyncio.Semaphore) -> None:
        async with slots:
            if self._cancelled:
                self._done.put((request, _NOT_SENT))
                return
            try:
                if self._before_send is not None:
                    await asyncio.to_thread(self._before_send, request)
                outcome: Any = await self._sender.send_async(request)
            except asyncio.CancelledError:  # the loop is going away mid-send
                self._done.put((request, TransientSendError(None, ambiguous=True)))
                raise
            except Exception as exc:  # handed to the caller, which decides per message
                outcome = exc
            self._done.put((request, outcome))

    def run(
        self, requests: Iterable[OutboundRequest]
    ) -> Generator[tuple[OutboundRequest, SendOutcome], None, None]:
        in_flight = 0
        try:
            source = iter(requests)
            exhausted = False
            while True:
                # twice as many handed over as may run, so the loop never waits on the caller;
                # each one at once: reading the next may wait (a rate limit, a database)
                while not exhausted and in_flight < 2 * self._size:
                    request = next(source, None)
                    if request is None:
                        exhausted = True
                        break
                    self._loop.submit(self._start, request)
                    in_flight += 1
                if in_flight == 0:
                    return
                outcome = self._done.get()
                in_flight -= 1
                yield outcome
                while in_flight:  # whatever else has finished, without waiting
                    try:
                        outcome = self._done.get_nowait()
                    except queue.Empty:
                        break
                    in_flight -= 1
                    yield outcome
        finally:
            self._cancelled = True  # read on the loop: sends not yet started are dropped
            if not self._loop.on_loop_thread():  # there, waiting would stop the very tasks
                while in_flight:
                    self._done.get()
                    in_flight -= 1


def _outbound_since(instance: Any, since: datetime) -> bool:
    if not str(instance.direction or "").startswith("outbound"):
        return False
    created = instance.date_created
    return created is None or created >= since


def _skeleton(text: str) -> str:
    """What Twilio's Smart Encoding leaves alone: letters (not modifier letters such as the
    apostrophe U+02BC it turns into ') , digits and symbols such as emoji, after NFKC.

    Its list maps quotes, apostrophes, dashes, spaces, slashes and the like to ASCII
    punctuation, so two texts equal on this skeleton differ only where it may have rewritten.
    """
    kept = []
    for ch in unicodedata.normalize("NFKC", text):
        category = unicodedata.category(ch)
        if (category[0] == "L" and category != "Lm") or category[0] == "N" or category == "So":
            kept.append(ch)
    return "".join(kept)


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
