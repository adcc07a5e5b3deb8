"""Webhook to routed case: p95 latency with one worker process at 50 messages/s.

Runs the production shape on this machine: gunicorn (2 processes x 4 threads) for the webhook,
ONE ``flask --app app worker`` process (inbound triage, acknowledgements sent to a fake Twilio
on loopback, sweeper), PostgreSQL and Redis. Signed requests are sent open loop at a fixed rate
(synthetic multilingual texts, 300 senders, so some messages join open cases). For each message
the latency is ``processed_at`` (set in the job's transaction, just before it commits the routed
case) minus the time the request was planned to be sent.

Bounded: warm-up 20 messages, then ``BENCH_SECONDS`` (20) seconds of load, then at most 60 s
to drain. Usage: ``.venv/bin/python bench/pipeline_latency.py``. Target (issue 3): p95 < 2 s.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import redis
import requests
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN  # noqa: E402
from tests.servers import (  # noqa: E402
    free_port,
    recreate_database,
    start_gunicorn,
    start_worker,
    stop,
)

PG = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/mcof_bench_triage"
)
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
RATE = int(os.environ.get("BENCH_RATE", "50"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "20"))
DRAIN_SECONDS = 60
PATH = "/webhooks/twilio/messages"
TEXTS = [
    "Nou bezwen tant ak prela, kay nou kraze",
    "Pa gen dlo nan kan an depi 3 jou, timoun yo malad",
    "Mon enfant est malade, il faut un médecin",
    "Nous n'avons rien à manger depuis deux jours",
    "Necesitamos medicinas para mi madre enferma",
    "The road to the camp is blocked, we need transport",
    "Where is the water point?",
    "نحتاج طعام للأطفال، لا يوجد أكل",
    "Нам потрібні ковдри і матраци, будинок зруйновано",
    "Tunahitaji chakula na maji safi kambini",
    "Precisamos de lonas, a nossa casa desabou",
    "Thank you for the help yesterday",
    "My father is under the rubble and bleeding, please help",
    "He said I get my card faster if I come to his tent at night",
    "When will the distribution of food kits start?",
    "Is it true that the vaccine makes children sick?",
]


def app_env(fake_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": PG,
        "REDIS_URL": REDIS,
        "SECRET_KEY": "bench",
        "TWILIO_ACCOUNT_SID": DEFAULT_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN,
        "TWILIO_SMS_FROM": "+15005550006",
        "TWILIO_API_BASE_URL": fake_url,
        "QUEUE_PREFIX": "mcofbenchtriage",
        "SWEEP_INTERVAL_SECONDS": "30",
    }


def reset_services(env: dict[str, str]) -> None:
    recreate_database(PG)
    redis.Redis.from_url(REDIS).flushdb()
    for args in (["db", "upgrade"], ["operations", "load-config"]):
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", *args],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )


def start_fake_twilio() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_twilio", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("FAKE_TWILIO_URL="):
            return process, line.strip().split("=", 1)[1]
    raise RuntimeError("fake Twilio did not start")


def signed(url: str, n: int, prefix: str) -> tuple[str, str, str]:
    """(MessageSid, form body, signature) of message ``n``."""
    sid = f"SM{prefix}{n:030d}"
    params = {
        "MessageSid": sid,
        "AccountSid": DEFAULT_ACCOUNT_SID,
        "From": f"+50937{n % 300:06d}",
        "To": "+15005550006",
        "Body": f"{TEXTS[n % len(TEXTS)]} ({n})",
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    signature = RequestValidator(DEFAULT_AUTH_TOKEN).compute_signature(url, params)
    return sid, urlencode(params), signature


def send_open_loop(url: str, count: int, rate: int, prefix: str) -> tuple[dict[str, float], list]:
    """Send ``count`` messages at ``rate``/s; return planned wall time per sid, webhook ms."""
    prepared = [signed(url, n, prefix) for n in range(count)]
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=32, pool_maxsize=32))
    planned_at: dict[str, float] = {}
    webhook_ms: list[float] = []
    failures = 0
    lock = threading.Lock()
    index = iter(range(count))
    start_mono = time.monotonic() + 0.2
    start_wall = time.time() + 0.2

    def run() -> None:
        nonlocal failures
        for n in index:
            offset = n / rate
            delay = start_mono + offset - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sid, body, signature = prepared[n]
            response = session.post(
                url,
                data=body,
                timeout=10,
                headers={
                    "X-Twilio-Signature": signature,
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
            elapsed = (time.monotonic() - start_mono - offset) * 1000
            with lock:
                planned_at[sid] = start_wall + offset
                webhook_ms.append(elapsed)
                failures += response.status_code != 200

    threads = [threading.Thread(target=run) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        print(f"  webhook failures: {failures}")
    return planned_at, webhook_ms


def wait_processed(engine: sa.Engine, sids: list[str], deadline: float) -> dict[str, float]:
    """processed_at (epoch seconds) per sid, polling until all are routed or the deadline."""
    query = sa.text(
        "SELECT external_id, extract(epoch from processed_at) FROM message "
        "WHERE external_id = ANY(:sids) AND processed_at IS NOT NULL"
    )
    done: dict[str, float] = {}
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            done = {sid: float(at) for sid, at in conn.execute(query, {"sids": sids})}
        if len(done) == len(sids):
            break
        time.sleep(0.5)
    return done


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    started: list[subprocess.Popen] = []  # type: ignore[type-arg]
    engine = sa.create_engine(PG)
    try:
        fake, fake_url = start_fake_twilio()
        started.append(fake)
        env = app_env(fake_url)
        reset_services(env)
        port = free_port()
        url = f"http://127.0.0.1:{port}{PATH}"
        started.append(start_gunicorn(env, port))
        started.append(start_worker(env))
        measure(engine, url)
    finally:
        engine.dispose()
        for process in reversed(started):
            stop(process, wait=15)


def measure(engine: sa.Engine, url: str) -> None:
    warm, _ = send_open_loop(url, 20, 10, "warm")
    wait_processed(engine, list(warm), time.monotonic() + 60)

    count = RATE * SECONDS
    print(f"load average before: {os.getloadavg()}")
    print(f"sending {count} messages at {RATE}/s to gunicorn, one worker process ...")
    started = time.monotonic()
    planned, webhook_ms = send_open_loop(url, count, RATE, "load")
    sent_in = time.monotonic() - started
    done = wait_processed(engine, list(planned), time.monotonic() + DRAIN_SECONDS)
    latencies = [(done[sid] - planned[sid]) * 1000 for sid in done]
    span = max(done.values()) - min(done.values()) if len(done) > 1 else float("nan")
    with engine.connect() as conn:
        cases = conn.execute(sa.text("SELECT count(*) FROM feedback_case")).scalar()
        routed = conn.execute(
            sa.text(
                "SELECT count(*) FROM message WHERE direction = 'in' AND case_id IS NOT NULL "
                "AND external_id LIKE 'SMload%'"
            )
        ).scalar()
        acks = conn.execute(
            sa.text("SELECT status, count(*) FROM message WHERE direction = 'out' GROUP BY status")
        ).all()
    print(f"sent {count} in {sent_in:.1f} s ({count / sent_in:.1f}/s)")
    print(
        f"webhook: p50 {statistics.median(webhook_ms):.1f} ms, "
        f"p95 {percentile(webhook_ms, 0.95):.1f} ms, p99 {percentile(webhook_ms, 0.99):.1f} ms"
    )
    print(f"processed {len(done)}/{count}; with a case: {routed}; cases: {cases}")
    print(f"worker throughput while loaded: {len(done) / span:.1f} messages/s")
    print(f"load average (1, 5, 15 min): {os.getloadavg()} on {os.cpu_count()} CPUs")
    outbound = {row.status: row.count for row in acks}
    print(f"outbound messages by status: {outbound}")
    if latencies:
        print(
            f"webhook -> routed case: p50 {statistics.median(latencies):.0f} ms, "
            f"p95 {percentile(latencies, 0.95):.0f} ms, p99 {percentile(latencies, 0.99):.0f} "
            f"ms, max {max(latencies):.0f} ms (target p95 < 2000 ms)"
        )


if __name__ == "__main__":
    main()
