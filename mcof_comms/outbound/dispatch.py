"""Send queued outbound rows through the provider: once, paced, only with consent.

The life of a row here (``Message`` lifecycle):

1. ``QUEUED``: checked at send time. Opted out on its channel -> ``SKIPPED`` (``opted_out``);
   an address that cannot receive a reply (a short code, an alphanumeric sender) -> ``SKIPPED``
   (``no_reply_path``);
   the same text already went to that contact several times within minutes -> ``SKIPPED``
   (``repetition``, flagged for review); its broadcast was cancelled -> ``CANCELED``; WhatsApp
   outside the 24-hour window -> the broadcast's template, else SMS, else ``FAILED``.
2. Claimed: one ``UPDATE ... WHERE status = 'queued'`` moves it to ``SENDING`` with the time of
   the attempt, and is committed *before* the provider is called. Two workers never both claim it.
3. The provider answers: ``ACCEPTED`` with its sid; a permanent error -> ``FAILED`` with a typed
   reason (21610 also opts the contact out; 63016 queues a template/SMS resend); 429/5xx ->
   back to ``QUEUED`` and the job is retried with backoff.
4. No answer (timeout, dropped connection, a worker killed mid-send): the row stays ``SENDING``.
   Once its lease has passed, the next run asks the provider (``find_sent``) whether it took the
   message, and records the sid instead of sending it again.

Sending overlaps requests on one event loop (``TwilioSender.send_many``); the database is used
only on the calling thread, and results are written in batches.
"""

from __future__ import annotations

import logging
import random
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, bindparam, case, func, select, text, update

from config import Settings
from mcof_comms import jobs
from mcof_comms.channels.base import (
    ChannelSender,
    FailureReason,
    OutboundRequest,
    PermanentSendError,
    SendResult,
    TransientSendError,
)
from mcof_comms.channels.inbound import can_reply_to
from mcof_comms.db import among, utcnow
from mcof_comms.extensions import db
from mcof_comms.models import (
    STATUS_RANK,
    Broadcast,
    BroadcastStatus,
    Channel,
    ContactChannel,
    Direction,
    Message,
    MessageStatus,
)
from mcof_comms.models.message import SendRoute
from mcof_comms.outbound.ratelimit import RateLimiter, bulk_reserve, default_rate, sender_kind
from mcof_comms.outbound.segments import count_segments
from mcof_comms.outbound.services import MAX_SEND_ATTEMPTS, last_inbound, sender_address
from mcof_comms.outbound.window import choose_route

logger = logging.getLogger(__name__)

CHUNK = 250  # rows prepared and claimed per database round trip
FLUSH_EVERY = 250  # results written per statement
FLUSH_SECONDS = 0.25
#: A row ``SENDING`` for longer than this is presumed abandoned and reconciled.
DEFAULT_LEASE_SECONDS = 60
#: Repetition guard: this many copies of one text to one contact within the window is enough.
REPEAT_LIMIT = 3
REPEAT_WINDOW = timedelta(minutes=10)

_table = Message.__table__
_UNSENT = (MessageStatus.QUEUED.value, MessageStatus.SENDING.value)


def _outbound_in(status: MessageStatus) -> Any:
    """``status = status`` for an outbound row QUEUED or SENDING, on columns no index leads with.

    Mid-broadcast, PostgreSQL's statistics may still say hardly any row is queued; a predicate
    on ``status`` then tempts the planner to walk (status, created_at) through every queued row
    of the broadcast instead of the primary key. Outbound, rank 0 is only QUEUED and 1 only
    SENDING (``STATUS_RANK``), and ``status_rank`` is written with every status.
    """
    if status not in (MessageStatus.QUEUED, MessageStatus.SENDING):
        raise ValueError(f"not a pre-send status: {status}")
    return and_(
        _table.c.status_rank == STATUS_RANK[status], _table.c.direction == Direction.OUT.value
    )


class RetryLater(Exception):
    """Some rows could not be sent now (429, 5xx, a lease still running); RQ retries the job."""


@dataclass
class DispatchStats:
    accepted: int = 0
    failed: int = 0
    skipped: int = 0
    canceled: int = 0
    reconciled: int = 0
    retry: int = 0
    busy: int = 0
    more: bool = False  # stopped with rows left: time budget spent, or replies waiting
    fallbacks: list[int] = field(default_factory=list)  # new rows to enqueue (63016)


@dataclass
class _Plan:
    """One row ready to hand to the provider; ``changes`` are columns the route rewrote."""

    request: OutboundRequest
    rate_key: str
    cost: int
    route: SendRoute
    changes: dict[str, Any]
    reclaimed: bool = False
    taken_at: datetime | None = None  # reclaimed: the send_attempted_at our take wrote


# --- process-wide provider objects ----------------------------------------------------------

_senders: dict[tuple[str, str, str | None, int], ChannelSender] = {}


def get_sender() -> ChannelSender:
    """The process' TwilioSender (thread-safe, pooled), or a test's sender set on the app."""
    override = current_app.extensions.get("mcof_channel_sender")
    if override is not None:
        sender: ChannelSender = override
        return sender
    settings: Settings = current_app.extensions["mcof_settings"]
    key = (
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        settings.twilio_api_base_url,
        settings.outbound_concurrency,
    )
    if key not in _senders:
        from mcof_comms.channels.twilio.client import make_twilio_client
        from mcof_comms.channels.twilio.sender import TwilioSender

        client = make_twilio_client(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            api_base_url=settings.twilio_api_base_url,
            pool_size=max(settings.outbound_concurrency, 4),
        )
        _senders[key] = TwilioSender(client)
    return _senders[key]


def status_callback_url(settings: Settings, message_id: int) -> str | None:
    if not settings.public_base_url:
        return None
    return f"{settings.public_base_url}/webhooks/twilio/status?message_id={message_id}"


def lease_seconds() -> float:
    return float(current_app.config.get("OUTBOUND_SEND_LEASE_SECONDS", DEFAULT_LEASE_SECONDS))


# --- the dispatcher ---------------------------------------------------------------------------


#: While waiting for a rate-limit grant, look this often whether to stop instead.
STOP_CHECK_SECONDS = 0.1
#: Bulk work steps aside when jobs wait on these queues (the worker takes them first).
AHEAD_OF_BULK = (jobs.INBOUND, jobs.REPLIES)


class Dispatcher:
    """Sends a stream of message ids; one instance per job, used on one thread.

    ``bulk`` (a broadcast range) leaves a reserve of each sender's rate to replies, and stops
    between paced groups, with ``stats.more``, once its ``deadline`` has passed or an inbound
    message or a reply is waiting for the worker: a broadcast never holds a reply up for more
    than about a second of sending.
    """

    def __init__(self, *, deadline: float | None = None, bulk: bool = False) -> None:
        self.settings: Settings = current_app.extensions["mcof_settings"]
        self.sender = get_sender()
        self.limiter = RateLimiter(jobs.get_redis())
        self.deadline = deadline
        self.bulk = bulk
        self._groups = 0  # paced groups claimed: a bulk job sends one before it steps aside
        self.lease = timedelta(seconds=lease_seconds())
        self.stats = DispatchStats()
        self._accepted: list[dict[str, Any]] = []
        self._last_flush = time.monotonic()
        self._broadcasts: dict[int, tuple[BroadcastStatus, dict[str, Any]]] = {}
        self._rates: dict[str, float | None] = {}
        self._dialect = db.session.get_bind().dialect.name

    # public ------------------------------------------------------------------------------

    def run(self, chunks: Iterable[list[int]]) -> DispatchStats:
        """Send every sendable row among ``chunks`` of ids; commit as it goes."""
        concurrency = max(1, self.settings.outbound_concurrency)
        send_many = getattr(self.sender, "send_many", None)
        requests = self._requests(chunks)
        if send_many is not None:
            outcomes: Iterable[tuple[OutboundRequest, Any]] = send_many(
                requests, max_in_flight=concurrency
            )
        else:
            outcomes = ((r, _send_one(self.sender, r)) for r in requests)
        # closed here, on this thread, even on an error: left to the garbage collector, the
        # fan-out's clean-up could run on its own event loop thread and wait there for ever
        with closing(iter(outcomes)) as results:  # type: ignore[type-var]
            for request, outcome in results:
                self._record(request, outcome)
                if len(self._accepted) >= FLUSH_EVERY or (
                    time.monotonic() - self._last_flush > FLUSH_SECONDS
                ):
                    self._flush()
        self._flush()
        return self.stats

    # preparing and claiming ---------------------------------------------------------------

    def _requests(self, chunks: Iterable[list[int]]) -> Iterator[OutboundRequest]:
        for ids in chunks:
            if self._must_stop():
                return
            self._flush()
            plans = self._prepare(ids)
            if not plans:
                continue
            for group in self._paced(plans):
                yield from self._claim(group)
                self._groups += 1
                if self._must_stop():  # before waiting for the next group's grant
                    return

    def _must_stop(self) -> bool:
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.stats.more = True
        if not self.stats.more and self.bulk and self._groups:
            self.stats.more = jobs.waiting(AHEAD_OF_BULK) > 0
        return self.stats.more

    def _prepare(self, ids: list[int]) -> list[_Plan]:
        """Load rows, decide what each one needs, settle those that will not be sent."""
        session = db.session
        rows = session.execute(
            select(
                _table.c.id,
                _table.c.direction,
                _table.c.status,
                _table.c.channel,
                _table.c.contact_id,
                _table.c.body,
                _table.c.to_address,
                _table.c.from_address,
                _table.c.messaging_service_sid,
                _table.c.broadcast_id,
                _table.c.language,
                _table.c.content_sid,
                _table.c.content_variables,
                _table.c.send_attempted_at,
                _table.c.send_attempts,
                _table.c.num_segments,
                _table.c.route,
                _table.c.retry_of_id,
                _table.c.operation_id,
            ).where(among(_table.c.id, ids, self._dialect))
        ).all()
        # filtered here, not in SQL, so that the primary key is the only index to use
        rows = [r for r in rows if r.direction == Direction.OUT.value and r.status in _UNSENT]
        if not rows:
            return []
        now = utcnow()
        channels = self._channels({r.contact_id for r in rows})
        repeated = self._repeated(rows, now)
        settle: dict[tuple[MessageStatus, str | None], list[int]] = defaultdict(list)
        plans: list[_Plan] = []
        stale: list[Any] = []
        for row in rows:
            if row.status == MessageStatus.SENDING.value:
                if row.send_attempted_at is not None and now - row.send_attempted_at < self.lease:
                    self.stats.busy += 1  # another run may be sending it right now
                    continue
                stale.append(row)
                continue
            if row.send_attempts >= MAX_SEND_ATTEMPTS:
                settle[(MessageStatus.FAILED, FailureReason.PROVIDER_ERROR.value)].append(row.id)
                continue
            broadcast = self._broadcast(row.broadcast_id)
            if broadcast is not None and broadcast[0] is BroadcastStatus.CANCELED:
                settle[(MessageStatus.CANCELED, None)].append(row.id)
                continue
            decision = self._decide(row, channels.get(row.contact_id, {}), broadcast, now)
            if isinstance(decision, tuple):
                settle[decision].append(row.id)
                continue
            if (row.contact_id, decision.request.body) in repeated:
                settle[(MessageStatus.SKIPPED, FailureReason.REPETITION.value)].append(row.id)
                continue
            plans.append(decision)
        for (status, reason), settled_ids in settle.items():
            self._settle(settled_ids, status, reason)
        if stale:
            plans.extend(self._reconcile(stale, channels, now))
        if settle or not plans:
            db.session.commit()  # else the claim commits this transaction
        return plans

    def _channels(self, contact_ids: set[int]) -> dict[int, dict[Channel, Any]]:
        result: dict[int, dict[Channel, Any]] = defaultdict(dict)
        table = ContactChannel.__table__
        for row in db.session.execute(
            select(
                table.c.contact_id,
                table.c.channel,
                table.c.address,
                table.c.last_inbound_at,
                table.c.opted_out_at,
                table.c.opted_in_at,
            ).where(among(table.c.contact_id, list(contact_ids), self._dialect))
        ):
            opted_out = row.opted_out_at is not None and (
                row.opted_in_at is None or row.opted_in_at < row.opted_out_at
            )
            result[row.contact_id][Channel(row.channel)] = (
                row.address,
                row.last_inbound_at,
                opted_out,
            )
        return result

    def _repeated(self, rows: list[Any], now: datetime) -> set[tuple[int, str]]:
        """(contact, text) pairs the provider took REPEAT_LIMIT times within REPEAT_WINDOW.

        Keyed on ``sent_at`` (set when the provider accepts), which no index leads with: the
        planner then walks (contact_id, created_at) for these contacts, instead of every message
        sent in the last minutes, a scan that grew with the broadcast being sent.
        """
        contact_ids = {r.contact_id for r in rows if r.body}
        if not contact_ids:
            return set()
        found = db.session.execute(
            select(_table.c.contact_id, _table.c.body)
            .where(
                among(_table.c.contact_id, list(contact_ids), self._dialect),
                _table.c.direction == Direction.OUT.value,
                _table.c.sent_at >= now - REPEAT_WINDOW,
            )
            .group_by(_table.c.contact_id, _table.c.body)
            .having(func.count() >= REPEAT_LIMIT)
        ).all()
        if found:
            logger.warning("repetition guard stopped messages to %s contacts", len(found))
        return {(r.contact_id, r.body) for r in found}

    def _broadcast(self, broadcast_id: int | None) -> tuple[BroadcastStatus, dict[str, Any]] | None:
        if broadcast_id is None:
            return None
        if broadcast_id not in self._broadcasts:
            row = db.session.execute(
                select(Broadcast.status, Broadcast.templates).where(Broadcast.id == broadcast_id)
            ).one_or_none()
            if row is None:
                return None
            self._broadcasts[broadcast_id] = (BroadcastStatus(row.status), row.templates or {})
        return self._broadcasts[broadcast_id]

    def _decide(
        self,
        row: Any,
        channels: dict[Channel, Any],
        broadcast: tuple[BroadcastStatus, dict[str, Any]] | None,
        now: datetime,
    ) -> _Plan | tuple[MessageStatus, str | None]:
        """A plan to send the row, or the (status, reason) it ends with unsent."""
        channel = Channel(row.channel)
        own = channels.get(channel)
        if own is not None and own[2]:
            return MessageStatus.SKIPPED, FailureReason.OPTED_OUT.value
        sms = channels.get(Channel.SMS)
        has_template = bool(row.content_sid)
        route_choice = choose_route(
            channel,
            last_inbound_at=own[1] if own is not None else None,
            now=now,
            has_template=has_template,
            sms_available=sms is not None and not sms[2],
        )
        if row.route == SendRoute.TEMPLATE.value and has_template:
            route_choice = type(route_choice)(SendRoute.TEMPLATE, Channel.WHATSAPP)
        elif row.route == SendRoute.SMS_FALLBACK.value:
            if sms is None or sms[2]:
                return MessageStatus.SKIPPED, FailureReason.OPTED_OUT.value
            route_choice = type(route_choice)(SendRoute.SMS_FALLBACK, Channel.SMS)
        if route_choice.route is None:
            return MessageStatus.FAILED, FailureReason.OUTSIDE_WINDOW.value
        to = row.to_address
        if route_choice.channel is not channel:
            to = sms[0] if sms is not None else None
        if not to:
            return MessageStatus.FAILED, FailureReason.INVALID_NUMBER.value
        if not can_reply_to(to):
            return MessageStatus.SKIPPED, FailureReason.NO_REPLY_PATH.value
        if route_choice.channel is channel and (row.from_address or row.messaging_service_sid):
            from_, service = row.from_address, row.messaging_service_sid  # chosen when queued
        else:  # a fallback to another channel: the address the person knows there
            from_, service = sender_address(
                route_choice.channel,
                self.settings,
                operation_id=row.operation_id,
                # a broadcast speaks from its operation's address (no query per recipient)
                wrote_to=None
                if row.broadcast_id is not None
                else last_inbound(row.contact_id, route_choice.channel),
            )
        if not from_ and not service:
            logger.error("no sender configured for %s", route_choice.channel.value)
            return MessageStatus.FAILED, FailureReason.PROVIDER_ERROR.value
        template = route_choice.route is SendRoute.TEMPLATE
        body = None if template else row.body
        if not template and not body:
            return MessageStatus.FAILED, FailureReason.CONTENT_REJECTED.value
        changes: dict[str, Any] = {}
        segments = row.num_segments or 1
        if (route_choice.channel.value, to, from_, service) != (
            row.channel,
            row.to_address,
            row.from_address,
            row.messaging_service_sid,
        ):
            segments = max(count_segments(row.body or "").segments, 1)
            changes = {
                "channel": route_choice.channel.value,
                "to_address": to,
                "from_address": from_,
                "messaging_service_sid": service,
                "num_segments": segments,
            }
        request = OutboundRequest(
            message_id=row.id,
            to=to,
            body=body,
            from_=from_,
            messaging_service_sid=service,
            content_sid=row.content_sid if template else None,
            content_variables=row.content_variables if template else None,
            status_callback=status_callback_url(self.settings, row.id),
        )
        cost = segments if route_choice.channel is Channel.SMS else 1
        return _Plan(request, from_ or service or "", cost, route_choice.route, changes)

    # pacing ------------------------------------------------------------------------------------

    def _rate(self, key: str) -> float | None:
        if key not in self._rates:
            service = key if key.startswith("MG") else None
            kind = sender_kind(None if service else key, service)
            self._rates[key] = default_rate(kind, override=self.settings.outbound_rate_limit)
        return self._rates[key]

    def _paced(self, plans: list[_Plan]) -> Iterator[list[_Plan]]:
        """Yield groups that may go out now: at most one second's worth per sender at a time."""
        by_key: dict[str, list[_Plan]] = defaultdict(list)
        for plan in plans:
            by_key[plan.rate_key].append(plan)
        for key, group in by_key.items():
            rate = self._rate(key)
            if not rate:
                yield group
                continue
            reserve = bulk_reserve(rate) if self.bulk else 0.0
            batch: list[_Plan] = []
            cost = 0
            for plan in group:
                if batch and cost + plan.cost > rate - reserve:
                    if not self._granted(key, rate, cost, reserve):
                        return
                    yield batch
                    batch, cost = [], 0
                batch.append(plan)
                cost += plan.cost
            if batch:
                if not self._granted(key, rate, cost, reserve):
                    return
                yield batch

    def _granted(self, key: str, rate: float, cost: float, reserve: float) -> bool:
        """Wait for the shared limit's grant; False if the job should stop first."""
        while True:
            delay = self.limiter.acquire(key, rate, cost, reserve)
            if not delay:
                return True
            if self._must_stop():
                return False
            time.sleep(min(delay, STOP_CHECK_SECONDS) + random.uniform(0, 0.01))  # noqa: S311

    def _claim(self, plans: list[_Plan]) -> list[OutboundRequest]:
        """Move rows to SENDING and commit before the provider hears of them.

        One UPDATE per route claims only rows still QUEUED (another worker may have taken
        some); columns a fallback rewrote (channel, address) are written per row.
        """
        now = utcnow()
        claimed: set[int] = {p.request.message_id for p in plans if p.reclaimed}
        by_route: dict[SendRoute, list[int]] = defaultdict(list)
        for plan in plans:
            if not plan.reclaimed:
                by_route[plan.route].append(plan.request.message_id)
        for route, ids in by_route.items():
            claimed.update(
                db.session.scalars(
                    update(Message)
                    .where(
                        among(_table.c.id, ids, self._dialect),
                        _outbound_in(MessageStatus.QUEUED),
                    )
                    .values(
                        status=MessageStatus.SENDING,
                        status_rank=STATUS_RANK[MessageStatus.SENDING],
                        route=route,
                        send_attempted_at=now,
                        send_attempts=Message.send_attempts + 1,
                        updated_at=now,
                    )
                    .returning(Message.id)
                    .execution_options(synchronize_session=False)
                )
            )
        for plan in plans:
            if not plan.reclaimed:
                continue
            # not found at the provider after a lost answer: a new attempt, if the row is
            # still ours; a take older than the lease may have been taken over meanwhile
            still_ours = db.session.execute(
                update(_table)
                .where(
                    _table.c.id == plan.request.message_id,
                    _outbound_in(MessageStatus.SENDING),
                    _table.c.send_attempted_at == plan.taken_at,
                )
                .values(send_attempted_at=now, send_attempts=_table.c.send_attempts + 1)
                .returning(_table.c.id)
            ).scalar_one_or_none()
            if still_ours is None:
                claimed.discard(plan.request.message_id)
        mine = [p for p in plans if p.request.message_id in claimed]
        rewritten = [p for p in mine if p.changes]
        if rewritten:
            db.session.connection().execute(
                update(_table)
                .where(_table.c.id == bindparam("b_id"))
                .values(
                    channel=bindparam("channel"),
                    to_address=bindparam("to_address"),
                    from_address=bindparam("from_address"),
                    messaging_service_sid=bindparam("messaging_service_sid"),
                    num_segments=bindparam("num_segments"),
                ),
                [{"b_id": p.request.message_id, **p.changes} for p in rewritten],
            )
        db.session.commit()
        return [p.request for p in mine]

    # reconciliation ----------------------------------------------------------------------------

    def _reconcile(
        self, rows: list[Any], channels: dict[int, dict[Channel, Any]], now: datetime
    ) -> list[_Plan]:
        """Rows left SENDING by a crash: take them over, ask the provider, resend if not there."""
        mine = []
        for row in rows:
            taken = db.session.execute(
                update(_table)
                .where(
                    _table.c.id == row.id,
                    _outbound_in(MessageStatus.SENDING),
                    _table.c.send_attempted_at == row.send_attempted_at,
                )
                .values(send_attempted_at=now, updated_at=now)
                .returning(_table.c.id)
            ).scalar_one_or_none()
            if taken is not None:
                mine.append(row)
        db.session.commit()
        if not mine:
            return []

        # sids we already hold for these addresses belong to other rows (the same text sent
        # twice to one person): never adopt one of those
        known = set(
            db.session.scalars(
                select(_table.c.external_id).where(
                    _table.c.to_address.in_({row.to_address for row in mine}),
                    _table.c.external_id.is_not(None),
                    _table.c.created_at >= now - timedelta(days=2),
                )
            )
        )
        db.session.commit()

        def ask(row: Any) -> SendResult | Exception | None:
            since = row.send_attempted_at or now - timedelta(hours=1)
            body = None if row.route == SendRoute.TEMPLATE.value else row.body
            try:
                return self.sender.find_sent(row.to_address, body, since, exclude=known)
            except Exception as exc:  # decided per row below
                return exc

        with ThreadPoolExecutor(max_workers=min(16, len(mine))) as pool:
            answers = list(pool.map(ask, mine))
        plans: list[_Plan] = []
        for row, answer in zip(mine, answers, strict=True):
            if isinstance(answer, SendResult):
                self.stats.reconciled += 1
                self._accepted.append(self._accepted_values(row.id, answer))
                logger.info("message %s was already accepted by the provider", row.id)
                continue
            if isinstance(answer, Exception):
                self.stats.retry += 1  # cannot ask now: keep it SENDING, try again later
                continue
            if row.send_attempts >= MAX_SEND_ATTEMPTS:
                self._settle(
                    [row.id],
                    MessageStatus.FAILED,
                    FailureReason.PROVIDER_ERROR.value,
                    from_status=MessageStatus.SENDING,
                )
                continue
            decision = self._decide(
                row, channels.get(row.contact_id, {}), self._broadcast(row.broadcast_id), now
            )
            if isinstance(decision, tuple):
                self._settle([row.id], *decision, from_status=MessageStatus.SENDING)
                continue
            decision.reclaimed = True
            decision.taken_at = now
            if decision.changes or decision.route.value != row.route:
                decision.changes = decision.changes or {
                    "channel": row.channel,
                    "to_address": row.to_address,
                    "from_address": row.from_address,
                    "messaging_service_sid": row.messaging_service_sid,
                    "num_segments": row.num_segments,
                }
            plans.append(decision)
        self._flush()
        return plans

    # results ----------------------------------------------------------------------------------

    def _record(self, request: OutboundRequest, outcome: Any) -> None:
        message_id = request.message_id
        if isinstance(outcome, SendResult):
            self.stats.accepted += 1
            self._accepted.append(self._accepted_values(message_id, outcome))
            return
        self._flush()
        if isinstance(outcome, PermanentSendError):
            self.stats.failed += 1
            self._fail(message_id, outcome.reason.value, outcome.code)
            if outcome.code in (21610, 63014):
                _opt_out(message_id, str(outcome.code))
            if outcome.code == 63016:
                from mcof_comms.outbound.fallback import queue_window_fallback

                fallback = queue_window_fallback(message_id)
                if fallback is not None:
                    self.stats.fallbacks.append(fallback.id)
            db.session.commit()
            return
        if isinstance(outcome, TransientSendError) and outcome.ambiguous:
            # the provider may have it: stay SENDING, reconcile after the lease
            self.stats.retry += 1
            logger.warning("message %s: no clear answer from the provider", message_id)
            return
        self.stats.retry += 1
        code = outcome.code if isinstance(outcome, TransientSendError) else None
        if not isinstance(outcome, TransientSendError):
            logger.error("message %s: unexpected send error %s", message_id, type(outcome).__name__)
        db.session.execute(
            update(Message)
            .where(Message.id == message_id, _outbound_in(MessageStatus.SENDING))
            .values(
                status=MessageStatus.QUEUED,
                status_rank=STATUS_RANK[MessageStatus.QUEUED],
                error_code=code,
                updated_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
        db.session.commit()

    def _accepted_values(self, message_id: int, result: SendResult) -> dict[str, Any]:
        return {
            "b_id": message_id,
            "sid": result.sid,
            "provider_status": result.provider_status[:32],
            "segments": result.num_segments or None,
            "now": utcnow(),
        }

    def _flush(self) -> None:
        """Write accepted results in one statement; a callback that came first is not undone."""
        self._last_flush = time.monotonic()
        if not self._accepted:
            return
        rows, self._accepted = self._accepted, []
        connection = db.session.connection()
        if connection.dialect.name == "postgresql":
            connection.execute(*_accepted_from_arrays(rows))
        else:
            connection.execute(_ACCEPTED_BY_ID, rows)
        db.session.commit()

    def _fail(self, message_id: int, reason: str, code: int | None) -> None:
        db.session.execute(
            update(Message)
            .where(
                Message.id == message_id,
                Message.status_rank < STATUS_RANK[MessageStatus.FAILED],
            )
            .values(
                status=MessageStatus.FAILED,
                status_rank=STATUS_RANK[MessageStatus.FAILED],
                failure_reason=reason,
                error_code=code,
                updated_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )

    def _settle(
        self,
        ids: list[int],
        status: MessageStatus,
        reason: str | None,
        *,
        from_status: MessageStatus = MessageStatus.QUEUED,
    ) -> None:
        values: dict[str, Any] = {
            "status": status,
            "status_rank": STATUS_RANK[status],
            "failure_reason": reason,
            "updated_at": utcnow(),
        }
        if reason == FailureReason.REPETITION.value:
            values["needs_review"] = True
        db.session.execute(
            update(Message)
            .where(among(_table.c.id, ids, self._dialect), _outbound_in(from_status))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if status is MessageStatus.CANCELED:
            self.stats.canceled += len(ids)
        elif status is MessageStatus.SKIPPED:
            self.stats.skipped += len(ids)
        else:
            self.stats.failed += len(ids)


_ACCEPTED_RANK = STATUS_RANK[MessageStatus.ACCEPTED]
_ACCEPTED_BY_ID = (
    update(_table)
    .where(_table.c.id == bindparam("b_id"))
    .values(
        status=case(
            (_table.c.status_rank < _ACCEPTED_RANK, MessageStatus.ACCEPTED.value),
            else_=_table.c.status,
        ),
        status_rank=case(
            (_table.c.status_rank < _ACCEPTED_RANK, _ACCEPTED_RANK),
            else_=_table.c.status_rank,
        ),
        external_id=bindparam("sid"),
        provider_status=case(
            (_table.c.status_rank < _ACCEPTED_RANK, bindparam("provider_status")),
            else_=_table.c.provider_status,
        ),
        num_segments=func.coalesce(bindparam("segments"), _table.c.num_segments),
        sent_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
)


#: PostgreSQL: one fixed statement for a whole batch of results (arrays, not a VALUES list
#: whose length varies), so it is compiled and prepared once, and memory stays flat.
_ACCEPTED_FROM_ARRAYS = text(
    "UPDATE message SET "
    "status = CASE WHEN message.status_rank < :rank THEN :accepted ELSE message.status END, "
    "status_rank = GREATEST(message.status_rank, :rank), "
    "external_id = v.sid, "
    "provider_status = CASE WHEN message.status_rank < :rank THEN v.provider_status "
    "ELSE message.provider_status END, "
    "num_segments = COALESCE(v.segments, message.num_segments), "
    "sent_at = :at, updated_at = :at "
    "FROM (SELECT unnest(CAST(:ids AS INTEGER[])) AS id, "
    "unnest(CAST(:sids AS VARCHAR[])) AS sid, "
    "unnest(CAST(:statuses AS VARCHAR[])) AS provider_status, "
    "unnest(CAST(:segments AS INTEGER[])) AS segments) AS v "
    "WHERE message.id = v.id"
)


def _accepted_from_arrays(rows: list[dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """Same effect as ``_ACCEPTED_BY_ID`` per row (the SQLite path), in one round trip."""
    return _ACCEPTED_FROM_ARRAYS, {
        "rank": _ACCEPTED_RANK,
        "accepted": MessageStatus.ACCEPTED.value,
        "at": rows[-1]["now"],
        "ids": [row["b_id"] for row in rows],
        "sids": [row["sid"] for row in rows],
        "statuses": [row["provider_status"] for row in rows],
        "segments": [row["segments"] for row in rows],
    }


def _send_one(sender: ChannelSender, request: OutboundRequest) -> Any:
    try:
        return sender.send(request)
    except Exception as exc:  # handed to _record, which decides per message
        return exc


def _opt_out(message_id: int, source: str) -> None:
    from mcof_comms.outbound.status import opt_out_channel

    message = db.session.get(Message, message_id)
    if message is not None:
        opt_out_channel(message, source=source)


def chunked(ids: Iterable[int], size: int = CHUNK) -> Iterator[list[int]]:
    batch: list[int] = []
    for message_id in ids:
        batch.append(message_id)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def bucket_chunks(lo: int, hi: int, size: int = CHUNK) -> Iterator[list[int]]:
    """Ids of unsent bulk rows in ``[lo, hi)``, read a chunk at a time as sending proceeds.

    Read by primary key range only and filtered here (see ``_outbound_in``): a range holds at
    most ``BUCKET_SIZE`` rows, and other filters tempt the planner into worse indexes.
    """
    after = lo - 1
    while True:
        rows = db.session.execute(
            select(_table.c.id, _table.c.direction, _table.c.broadcast_id, _table.c.status)
            .where(and_(_table.c.id > after, _table.c.id < hi))
            .order_by(_table.c.id)
            .limit(size)
        ).all()
        if not rows:
            return
        after = rows[-1].id
        ids = [
            r.id
            for r in rows
            if r.direction == Direction.OUT.value
            and r.broadcast_id is not None
            and r.status in _UNSENT
        ]
        if ids:
            yield ids
