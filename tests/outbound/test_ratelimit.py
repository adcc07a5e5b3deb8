"""The shared per-sender rate limit, on real Redis (db 14) and on fakeredis."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import redis

from mcof_comms.outbound.ratelimit import (
    RateLimiter,
    RateLimitTimeout,
    SenderKind,
    default_rate,
    sender_kind,
)

REDIS_URL = "redis://127.0.0.1:6379/14"  # this suite's own db index: flushed before and after
ROOT = Path(__file__).resolve().parents[2]


def _real_redis() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:  # fail loudly: the suite needs a real Redis
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}")
    return client


@pytest.fixture
def real_redis() -> Iterator[redis.Redis]:
    client = _real_redis()
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(params=["redis", "fakeredis"])
def backend(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "redis":
        yield request.getfixturevalue("real_redis")
    else:
        yield fakeredis.FakeRedis(server=fakeredis.FakeServer())


@pytest.fixture
def limiter(backend: Any) -> RateLimiter:
    return RateLimiter(backend, prefix="test:rl")


def test_idle_sender_bursts_one_seconds_worth_then_waits(limiter: RateLimiter) -> None:
    grants = [limiter.acquire("sender", 10) for _ in range(10)]
    assert grants == [0.0] * 10
    delay = limiter.acquire("sender", 10)
    assert 0.05 < delay <= 0.1


def test_refused_acquire_takes_nothing(limiter: RateLimiter) -> None:
    assert limiter.acquire("sender", 2) == 0.0
    assert limiter.acquire("sender", 2) == 0.0
    first = limiter.acquire("sender", 2)
    second = limiter.acquire("sender", 2)
    assert 0.4 < first <= 0.5
    assert 0.4 < second <= first  # asking again did not push the next grant further away


def test_keys_are_independent(limiter: RateLimiter) -> None:
    assert limiter.acquire("a", 1) == 0.0
    assert limiter.acquire("a", 1) > 0.9
    assert limiter.acquire("b", 1) == 0.0


@pytest.mark.parametrize("rate", [0, None])
def test_zero_or_none_is_unlimited(limiter: RateLimiter, backend: Any, rate: float | None) -> None:
    assert all(limiter.acquire("sender", rate, cost=5) == 0.0 for _ in range(500))
    assert backend.keys("test:rl:*") == []  # unlimited never touches Redis
    assert limiter.wait("sender", rate) < 0.05


def test_cost_counts_units(limiter: RateLimiter) -> None:
    # 10 units/s, 5 per request: the idle burst (10 units) holds two requests
    assert limiter.acquire("sender", 10, cost=5) == 0.0
    assert limiter.acquire("sender", 10, cost=5) == 0.0
    delay = limiter.acquire("sender", 10, cost=5)
    assert 0.4 < delay <= 0.5


def test_request_costing_more_than_a_second_still_passes(limiter: RateLimiter) -> None:
    # 40 segments/s, 50-segment requests: each is bigger than the burst, none may starve
    assert limiter.acquire("sender", 40, cost=50) == 0.0
    delay = limiter.acquire("sender", 40, cost=50)
    assert 1.1 < delay <= 1.25
    waited = limiter.wait("sender", 40, cost=50, timeout=3)
    assert 1.0 < waited < 2.0


def test_wait_paces_after_the_burst(limiter: RateLimiter) -> None:
    started = time.monotonic()
    for _ in range(13):
        limiter.wait("sender", 10, timeout=5)
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 0.8  # 10 at once, then 3 more at 0.1 s each


def test_wait_times_out_without_taking(limiter: RateLimiter) -> None:
    assert limiter.acquire("sender", 1) == 0.0
    started = time.monotonic()
    with pytest.raises(RateLimitTimeout):
        limiter.wait("sender", 1, timeout=0.1)
    assert time.monotonic() - started < 0.5
    assert 0.5 < limiter.acquire("sender", 1) <= 1.0  # still one grant ahead, not two


def test_a_reserve_leaves_room_for_requests_that_reserve_nothing(limiter: RateLimiter) -> None:
    # a broadcast at 10/s keeps 2 of the second's burst free: it gets 8, then must wait ...
    assert [limiter.acquire("sender", 10, reserve=2) for _ in range(8)] == [0.0] * 8
    assert limiter.acquire("sender", 10, reserve=2) > 0
    # ... while replies still go at once, up to the full second's worth, and no further
    assert limiter.acquire("sender", 10) == 0.0
    assert limiter.acquire("sender", 10) == 0.0
    assert limiter.acquire("sender", 10) > 0


def test_a_reserve_never_starves_the_reserving_caller(limiter: RateLimiter) -> None:
    # 1/s with one unit reserved: the bulk request still passes when the sender is idle
    assert limiter.acquire("sender", 1, reserve=1) == 0.0
    assert 0.9 < limiter.acquire("sender", 1, reserve=1) <= 1.0


def test_reset_forgets_history(limiter: RateLimiter) -> None:
    assert limiter.acquire("sender", 1) == 0.0
    assert limiter.acquire("sender", 1) > 0
    limiter.reset("sender")
    assert limiter.acquire("sender", 1) == 0.0


def test_limit_holds_across_threads_on_fakeredis() -> None:
    server = fakeredis.FakeServer()
    rate, duration = 20.0, 1.5
    start_at = time.time() + 0.2
    counts: list[int] = []

    def hammer() -> None:
        limiter = RateLimiter(fakeredis.FakeRedis(server=server), prefix="test:rl")
        counts.append(_hammer(limiter, rate, start_at, start_at + duration))

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = sum(counts)
    assert total <= rate * duration + rate + len(threads)
    assert total >= rate * duration * 0.8
    assert all(count > 0 for count in counts)


def _hammer(limiter: RateLimiter, rate: float, start_at: float, end_at: float) -> int:
    time.sleep(max(0.0, start_at - time.time()))
    grants = 0
    while time.time() < end_at:
        delay = limiter.acquire("shared", rate)
        if delay == 0.0:
            grants += 1
        else:
            time.sleep(min(delay, 0.003))
    return grants


CHILD = textwrap.dedent(
    """
    import json, sys, time
    import redis
    from mcof_comms.outbound.ratelimit import RateLimiter
    url = sys.argv[1]
    rate, start_at, end_at = (float(a) for a in sys.argv[2:5])
    limiter = RateLimiter(redis.Redis.from_url(url), prefix="test:rl")
    time.sleep(max(0.0, start_at - time.time()))
    grants = 0
    asks = 0
    while time.time() < end_at:
        asks += 1
        delay = limiter.acquire("shared", rate)
        if delay == 0.0:
            grants += 1
        else:
            time.sleep(min(delay, 0.003))
    print(json.dumps({"grants": grants, "asks": asks}))
    """
)


@pytest.mark.usefixtures("real_redis")
def test_limit_holds_across_processes_on_real_redis() -> None:
    rate, duration, processes = 25.0, 2.0, 3
    start_at = time.time() + 1.5  # after every child has imported redis
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                CHILD,
                REDIS_URL,
                str(rate),
                str(start_at),
                str(start_at + duration),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )
        for _ in range(processes)
    ]
    results = []
    for child in children:
        out, _ = child.communicate(timeout=30)
        assert child.returncode == 0
        results.append(json.loads(out))
    total = sum(r["grants"] for r in results)
    assert sum(r["asks"] for r in results) > 3 * total  # they really competed
    assert total <= rate * duration + rate + processes  # one second's burst, no more
    assert total >= rate * duration * 0.8
    assert all(r["grants"] > 0 for r in results)


@pytest.mark.parametrize(
    ("address", "service", "kind"),
    [
        ("+14155550100", None, SenderKind.LONG_CODE),
        ("+18885550100", None, SenderKind.TOLL_FREE),
        ("+18335550100", None, SenderKind.TOLL_FREE),
        ("12345", None, SenderKind.SHORT_CODE),
        ("whatsapp:+14155550100", None, SenderKind.WHATSAPP),
        ("IOMinfo", None, SenderKind.ALPHANUMERIC),
        (None, "MG" + "0" * 32, SenderKind.MESSAGING_SERVICE),
        ("+14155550100", "MG" + "0" * 32, SenderKind.MESSAGING_SERVICE),
    ],
)
def test_sender_kind(address: str | None, service: str | None, kind: SenderKind) -> None:
    assert sender_kind(address, service) is kind


def test_default_rates_follow_twilio_limits() -> None:
    assert default_rate(SenderKind.LONG_CODE) == 1.0
    assert default_rate(SenderKind.TOLL_FREE) == 3.0
    assert default_rate(SenderKind.SHORT_CODE) == 100.0
    assert default_rate(SenderKind.WHATSAPP) == 80.0
    assert default_rate(SenderKind.MESSAGING_SERVICE, messaging_service_rate=36) == 36


def test_override_wins_and_zero_means_unlimited() -> None:
    assert default_rate(SenderKind.WHATSAPP, override=5) == 5
    assert default_rate(SenderKind.LONG_CODE, override=0) is None
    assert default_rate(SenderKind.MESSAGING_SERVICE, messaging_service_rate=0) is None
    with pytest.raises(ValueError, match="override"):
        default_rate(SenderKind.LONG_CODE, override=-1)
