"""Pace sends per sender across every worker and process, through one Redis key per sender.

The limit is GCRA (a token bucket kept as one timestamp, the "theoretical arrival time"), run as a
single Lua script so that check-and-take is atomic in Redis, on Redis' own clock so that workers
on different hosts agree. An idle sender may burst one second's worth (or one request costing
more), then gets ``rate`` units per second. ``cost`` is segments for SMS (Twilio paces segments),
1 for WhatsApp.
"""

from __future__ import annotations

import enum
import math
import random
import re
import time
from typing import Any

#: KEYS[1] = bucket; ARGV = microseconds per unit, cost in units, burst tolerance in microseconds.
#: Returns 0 (granted, bucket updated) or the microseconds to wait (nothing taken).
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - tolerance
if allow_at > now then
  return math.ceil(allow_at - now)
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX',
           math.ceil((new_tat - now) / 1000) + 1000)
return 0
"""


class RateLimitTimeout(TimeoutError):
    """``RateLimiter.wait`` could not get a grant before its timeout."""


class RateLimiter:
    """Shared per-key rate limit; ``redis`` is a redis-py (or fakeredis) client."""

    def __init__(self, redis: Any, prefix: str = "mcof:ratelimit") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_GCRA)

    def _key(self, key: str) -> str:
        return f"{self._prefix}:{key}" if self._prefix else key

    def acquire(
        self, key: str, rate_per_second: float | None, cost: float = 1, reserve: float = 0
    ) -> float:
        """Take ``cost`` units now and return 0.0, or return the seconds to wait and take nothing.

        ``rate_per_second`` 0 or None means unlimited. The caller sleeps and asks again.
        ``reserve`` units of the one-second burst are left to callers that reserve nothing:
        bulk sends reserve, so a reply finds room at once even while a broadcast keeps the
        sender at its full rate (the rate over time is the same for both).
        """
        if not rate_per_second or cost <= 0:
            return 0.0
        if rate_per_second < 0:
            raise ValueError("rate_per_second must be positive, 0 or None")
        interval = 1_000_000 / rate_per_second  # microseconds per unit
        # one second's worth (or one request), less the reserve, but never less than the request
        tolerance = interval * max(max(rate_per_second, cost) - max(reserve, 0), cost)
        waited = self._script(keys=[self._key(key)], args=[interval, cost, tolerance])
        return int(waited) / 1_000_000

    def wait(
        self,
        key: str,
        rate_per_second: float | None,
        cost: float = 1,
        timeout: float | None = None,
        reserve: float = 0,
    ) -> float:
        """Block until ``cost`` units are granted; return the seconds spent waiting.

        Raises RateLimitTimeout, without taking anything, when the grant would come after
        ``timeout`` seconds.
        """
        started = time.monotonic()
        deadline = None if timeout is None else started + timeout
        while True:
            delay = self.acquire(key, rate_per_second, cost, reserve)
            if delay == 0.0:
                return time.monotonic() - started
            now = time.monotonic()
            if deadline is not None and now + delay > deadline:
                raise RateLimitTimeout(f"rate limit on {key!r}: next grant in {delay:.3f}s")
            # a little jitter so that workers woken together do not all ask in the same instant
            time.sleep(delay + random.uniform(0, min(0.01, delay)))  # noqa: S311 - not crypto

    def reset(self, key: str) -> None:
        """Forget the history of ``key`` (its next request may burst again)."""
        self._redis.delete(self._key(key))


class SenderKind(enum.StrEnum):
    LONG_CODE = "long_code"
    TOLL_FREE = "toll_free"
    SHORT_CODE = "short_code"
    ALPHANUMERIC = "alphanumeric"
    MESSAGING_SERVICE = "messaging_service"
    WHATSAPP = "whatsapp"


#: Twilio's published per-sender limits (messages, or SMS segments, per second).
DEFAULT_RATES: dict[SenderKind, float] = {
    SenderKind.LONG_CODE: 1.0,
    SenderKind.TOLL_FREE: 3.0,
    SenderKind.SHORT_CODE: 100.0,
    SenderKind.ALPHANUMERIC: 10.0,  # varies by country; a cautious middle
    SenderKind.MESSAGING_SERVICE: 10.0,  # spread over the pool; see messaging_service_rate
    SenderKind.WHATSAPP: 80.0,
}

_NANP_TOLL_FREE = re.compile(r"^\+1(800|833|844|855|866|877|888)\d{7}$")


def sender_kind(address: str | None, messaging_service_sid: str | None = None) -> SenderKind:
    """Classify a sender: a Messaging Service SID, ``whatsapp:...``, short code, toll-free..."""
    if messaging_service_sid or (address or "").startswith("MG"):
        return SenderKind.MESSAGING_SERVICE
    address = address or ""
    if address.startswith("whatsapp:"):
        return SenderKind.WHATSAPP
    if address.isdigit() and len(address) <= 8:
        return SenderKind.SHORT_CODE
    if _NANP_TOLL_FREE.match(address):
        return SenderKind.TOLL_FREE
    if address and not address.lstrip("+").isdigit():
        return SenderKind.ALPHANUMERIC
    return SenderKind.LONG_CODE


def bulk_reserve(rate_per_second: float) -> float:
    """Units per second a broadcast leaves free for replies: a tenth, at least one message."""
    return max(1.0, rate_per_second / 10)


def default_rate(
    sender: SenderKind,
    *,
    override: float | None = None,
    messaging_service_rate: float | None = None,
) -> float | None:
    """Messages (SMS: segments) per second for one sender; None means unlimited.

    ``override`` is the deployment's ``OUTBOUND_RATE_LIMIT`` (0 = unlimited) and wins over the
    defaults; ``messaging_service_rate`` sizes a Messaging Service to its pool of senders.
    """
    if override is not None:
        if override < 0 or not math.isfinite(override):
            raise ValueError("override must be a finite rate >= 0")
        return override or None
    if sender is SenderKind.MESSAGING_SERVICE and messaging_service_rate is not None:
        return messaging_service_rate or None
    return DEFAULT_RATES[sender]
