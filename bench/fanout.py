"""Broadcast fan-out throughput and memory, beside a bare twilio-python loop in the same run.

Run ``python -m bench.fanout`` from the repository root (PostgreSQL and Redis on loopback). It
creates the database ``mcof_bench_fanout`` and uses Redis db 9, seeds contacts, and for each
server latency (0 ms, 100 ms) starts the fake Twilio API in its own process, then:

1. measures a bare sequential loop of ``client.messages.create`` against it;
2. sends a broadcast to every seeded contact with ONE ``flask worker --burst`` process (fan-out,
   then bulk sends; rate limit lifted with ``OUTBOUND_RATE_LIMIT=0``), timing the sends as the
   fake saw them and sampling the worker's resident memory;
3. checks at the fake that every recipient got exactly one message.

Memory is compared between a 10,000- and a 100,000-recipient broadcast at 0 ms. Figures vary by
15-25% between runs on shared machines: compare the ratios printed by one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa

from bench.twilio_bare import FakeEndpoint, bare_loop_rate, fake_process
from tests.servers import recreate_database, start_worker

ROOT = Path(__file__).resolve().parents[1]
DATABASE = "mcof_bench_fanout"
DATABASE_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}"
REDIS_URL = "redis://127.0.0.1:6379/9"
SMALL_TAG = "bench-small"
TEXT = {
    "en": "Food distribution on {date} at the school. Bring your ration card.",
    "fr": "Distribution de vivres le {date} à l'école. Apportez votre carte.",
}


@dataclass
class Run:
    latency_ms: float
    recipients: int
    sent: int
    fake_accepted: int
    elapsed: float  # worker start to exit
    send_seconds: float  # first to last message at the fake
    peak_rss_mb: float

    @property
    def rate(self) -> float:
        return self.sent / self.send_seconds if self.send_seconds else 0.0

    @property
    def end_to_end(self) -> float:
        return self.sent / self.elapsed if self.elapsed else 0.0


def env(fake: FakeEndpoint | None = None, concurrency: int = 32) -> dict[str, str]:
    values = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "QUEUE_PREFIX": "mcofbench",
        "SECRET_KEY": "bench",
        "TWILIO_SMS_FROM": "+15005550006",
        "PUBLIC_BASE_URL": "https://hooks.example.org",
        "OUTBOUND_RATE_LIMIT": "0",
        "OUTBOUND_CONCURRENCY": str(concurrency),
        "SWEEP_INTERVAL_SECONDS": "3600",
        "STUCK_AFTER_SECONDS": "3600",
    }
    if fake is not None:
        values.update(
            TWILIO_ACCOUNT_SID=fake.account_sid,
            TWILIO_AUTH_TOKEN=fake.auth_token,
            TWILIO_API_BASE_URL=fake.base_url,
        )
    return values


def flask(*args: str, extra_env: dict[str, str] | None = None) -> None:
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=ROOT,
        env={**env(), **(extra_env or {})},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def reset_database() -> sa.Engine:
    recreate_database(DATABASE_URL)
    flask("db", "upgrade")
    return sa.create_engine(DATABASE_URL)


def seed(engine: sa.Engine, total: int, small: int) -> int:
    """An operation and ``total`` contacts (the first ``small`` tagged), each with one SMS
    address and one inbound message in the operation. Returns the operation id."""
    with engine.begin() as conn:
        operation_id = conn.execute(
            sa.text(
                "INSERT INTO operation (slug, name, areas, timezone, phase, languages, "
                "default_language, is_default, active, settings) VALUES ('bench', 'Bench', "
                "'[]', 'Africa/Kinshasa', 'emergency', '[\"fr\", \"en\"]', 'fr', false, true, "
                "'{}') RETURNING id"
            )
        ).scalar_one()
        conn.execute(
            sa.text(
                "INSERT INTO contact (phone, language, tags, first_seen_at, last_seen_at, "
                "last_inbound_at) SELECT '+243' || lpad(g::text, 9, '0'), "
                "CASE WHEN g % 3 = 0 THEN 'en' ELSE 'fr' END, "
                "CASE WHEN g <= CAST(:small AS integer) THEN jsonb_build_array(CAST(:tag AS text)) ELSE '[]'::jsonb END, "
                "now(), now(), now() FROM generate_series(1, CAST(:n AS integer)) AS g"
            ),
            {"n": total, "small": small, "tag": SMALL_TAG},
        )
        conn.execute(
            sa.text(
                "INSERT INTO contact_channel (contact_id, channel, address, first_seen_at, "
                "last_inbound_at) SELECT id, 'sms', phone, now(), now() FROM contact"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO message (direction, channel, kind, status, status_rank, contact_id,"
                " body, media, sectors, triage, needs_review, operation_id, created_at, "
                "updated_at) SELECT 'in', 'sms', 'feedback', 'processed', 1, id, 'seed', '[]', "
                "'[]', '{}', false, :op, now(), now() FROM contact"
            ),
            {"op": operation_id},
        )
        conn.execute(sa.text("ANALYZE"))
    return int(operation_id)


def create_broadcast(engine: sa.Engine, operation_id: int, audience: dict[str, Any]) -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                sa.text(
                    "INSERT INTO broadcast (operation_id, status, base_language, translations, "
                    "variables, templates, audience, cursor_contact_id, started_at, updated_at)"
                    " VALUES (:op, 'sending', 'en', :t, :v, '{}', :a, 0, now(), now()) "
                    "RETURNING id"
                ),
                {
                    "op": operation_id,
                    "t": json.dumps(TEXT),
                    "v": json.dumps({"date": {"type": "date", "value": "2026-12-03"}}),
                    "a": json.dumps(audience),
                },
            ).scalar_one()
        )


def fake_stats(fake: FakeEndpoint) -> dict[str, int]:
    with urllib.request.urlopen(f"{fake.base_url}/_fake/stats", timeout=10) as response:  # noqa: S310 - loopback
        stats: dict[str, int] = json.loads(response.read())
    return stats


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def run_broadcast(
    engine: sa.Engine,
    fake: FakeEndpoint,
    operation_id: int,
    audience: dict[str, Any],
    recipients: int,
    latency_ms: float,
    concurrency: int,
) -> Run:
    connection = redis.Redis.from_url(REDIS_URL)
    connection.flushdb()
    broadcast_id = create_broadcast(engine, operation_id, audience)
    before = fake_stats(fake)["sent"]
    code = (
        "from mcof_comms import create_app\n"
        "from mcof_comms.broadcasts.jobs import enqueue_fan_out\n"
        f"app = create_app()\nwith app.app_context(): enqueue_fan_out({broadcast_id})\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env(fake), check=True)
    started = time.perf_counter()
    worker = start_worker(env(fake, concurrency), "--burst")
    peak = 0.0
    first_send: float | None = None
    last_count, last_change = before, time.perf_counter()
    while worker.poll() is None:
        peak = max(peak, rss_mb(worker.pid))
        count = fake_stats(fake)["sent"]
        now = time.perf_counter()
        if count > before and first_send is None:
            first_send = now
        if count != last_count:
            last_count, last_change = count, now
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    accepted = fake_stats(fake)["sent"] - before
    with engine.connect() as conn:
        sent = conn.execute(
            sa.text("SELECT count(*) FROM message WHERE broadcast_id = :b AND status = 'accepted'"),
            {"b": broadcast_id},
        ).scalar_one()
    send_seconds = last_change - (first_send or started)
    return Run(latency_ms, recipients, int(sent), accepted, elapsed, send_seconds, peak)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument(
        "--slow-recipients",
        type=int,
        default=None,
        help="recipients at 100 ms (default: --recipients)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=32, help="OUTBOUND_CONCURRENCY (the default: 32)"
    )
    parser.add_argument("--bare", type=int, default=2000, help="bare-loop messages at 0 ms")
    args = parser.parse_args(argv)

    print(f"seeding {args.recipients} contacts ...", flush=True)
    engine = reset_database()
    operation_id = seed(engine, args.recipients, args.small)
    everyone: dict[str, Any] = {}
    small = {"tags": [SMALL_TAG]}
    slow_n = args.slow_recipients or args.recipients
    slow_audience = everyone if slow_n >= args.recipients else {"tags": [SMALL_TAG]}
    if slow_n < args.recipients and slow_n != args.small:
        raise SystemExit("--slow-recipients must equal --recipients or --small")

    runs: list[Run] = []
    bare: dict[float, float] = {}
    with fake_process(0) as fake:
        # the machine is shared: take the better of a bare loop before and after the runs,
        # so a busy moment cannot flatter the ratio
        bare[0] = bare_loop_rate(fake.client(), args.bare)
        for audience, n in ((small, args.small), (everyone, args.recipients)):
            run = run_broadcast(engine, fake, operation_id, audience, n, 0, args.concurrency)
            print(run, flush=True)
            runs.append(run)
        bare[0] = max(bare[0], bare_loop_rate(fake.client(), args.bare))
        print(f"bare loop at 0 ms: {bare[0]:.0f} msg/s", flush=True)
    with fake_process(100) as fake:
        bare[100] = bare_loop_rate(fake.client(), 30)
        print(f"bare loop at 100 ms: {bare[100]:.1f} msg/s", flush=True)
        run = run_broadcast(
            engine, fake, operation_id, slow_audience, slow_n, 100, args.concurrency
        )
        print(run, flush=True)
        runs.append(run)

    print()
    print(
        f"{'latency':>8} {'recipients':>10} {'sent':>7} {'at fake':>7} {'send rate':>10} "
        f"{'end-to-end':>10} {'bare loop':>10} {'ratio':>6} {'peak RSS':>9}"
    )
    for run in runs:
        print(
            f"{run.latency_ms:>6.0f}ms {run.recipients:>10} {run.sent:>7} {run.fake_accepted:>7} "
            f"{run.rate:>8.0f}/s {run.end_to_end:>8.0f}/s {bare[run.latency_ms]:>8.0f}/s "
            f"{run.rate / bare[run.latency_ms]:>6.2f} {run.peak_rss_mb:>7.0f}MB"
        )
    small_run, big_run, slow_run = runs
    growth = big_run.peak_rss_mb / small_run.peak_rss_mb - 1
    exact = all(r.sent == r.recipients == r.fake_accepted for r in runs)
    targets = {
        ">= 0.8 of the bare loop at 0 ms": big_run.rate / bare[0] >= 0.8,
        ">= 100 msg/s per worker at 100 ms": slow_run.rate >= 100,
        f"memory flat within 20% ({growth:+.0%})": abs(growth) <= 0.2,
        "every recipient exactly once (DB and fake agree)": exact,
    }
    for name, ok in targets.items():
        print(f"{'met' if ok else 'NOT met':>8}  {name}")
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
