"""Inbound webhook throughput and latency, beside a minimal insert-and-enqueue reference.

Runs both under gunicorn with the same settings, against PostgreSQL and Redis on this machine,
with signed requests (every request a new MessageSid, so every one is a real insert):

1. saturation: wrk, 16 connections, for each app -> requests/s, p50, p99; ratio full/reference;
2. steady load: 200 requests/s open loop for each app -> p50, p99.

Needs wrk (Debian: ``apt-get install wrk``). Usage: ``.venv/bin/python bench/ingest.py``.
Target (issue 2): full >= 0.8 x reference throughput, and p99 < 100 ms at 200 requests/s.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
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

from tests.servers import free_port, recreate_database, start_gunicorn, stop  # noqa: E402

PG = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/mcof_bench_ingest"
)
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
TOKEN = "bench-auth-token"  # noqa: S105 (a throwaway token for a local benchmark)
ACCOUNT = "AC" + "b" * 32
DURATION = int(os.environ.get("BENCH_SECONDS", "15"))
CONNECTIONS = 16


def reset_services() -> None:
    recreate_database(PG)
    redis.Redis.from_url(REDIS).flushdb()
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
        cwd=ROOT,
        env=app_env(),
        check=True,
        capture_output=True,
    )
    # analysis only: BENCH_DROP_INDEXES=ix_a,ix_b measures what those indexes cost the webhook
    drop = [name for name in os.environ.get("BENCH_DROP_INDEXES", "").split(",") if name]
    if drop:
        engine = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for name in drop:
                conn.execute(sa.text(f'DROP INDEX IF EXISTS "{name}"'))
        engine.dispose()
        print(f"dropped indexes for this run: {', '.join(drop)}")


def app_env() -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": PG,
        "REDIS_URL": REDIS,
        "SECRET_KEY": "bench",
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "QUEUE_PREFIX": "mcofbench",
    }


def signed_requests(url: str, count: int, prefix: str) -> list[tuple[str, str]]:
    """(form body, signature) pairs, each with a new MessageSid and one of 500 senders."""
    validator = RequestValidator(TOKEN)
    out = []
    for n in range(count):
        params = {
            "MessageSid": f"SM{prefix}{n:030d}",
            "AccountSid": ACCOUNT,
            "From": f"+50937{n % 500:06d}",
            "To": "+15005550006",
            "Body": "Pa gen dlo nan kan an depi 3 jou, timoun yo malad",
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        out.append((urlencode(params), validator.compute_signature(url, params)))
    return out


def lua_script(pairs: list[tuple[str, str]], path: Path) -> None:
    with path.open("w") as fh:
        fh.write("local bodies = {\n")
        fh.writelines(f'"{body}",\n' for body, _ in pairs)
        fh.write("}\nlocal sigs = {\n")
        fh.writelines(f'"{sig}",\n' for _, sig in pairs)
        fh.write(
            "}\nlocal counter = 0\nlocal stride = 1\n"
            "function setup(thread) thread:set('offset', counter) counter = counter + 1 end\n"
            "function init(args) i = offset end\n"
            "function request()\n"
            "  i = i + 2\n"
            "  local k = (i % #bodies) + 1\n"
            "  wrk.headers['Content-Type'] = 'application/x-www-form-urlencoded'\n"
            "  wrk.headers['X-Twilio-Signature'] = sigs[k]\n"
            "  return wrk.format('POST', nil, nil, bodies[k])\n"
            "end\n"
        )


def run_wrk(url: str, script: Path) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--latency", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout

    def ms(label: str) -> float:
        match = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rate,
        "p50": ms("50%"),
        "p99": ms("99%"),
        "non2xx": int(errors.group(1)) if errors else 0,
    }


def steady(url: str, pairs: list[tuple[str, str]], rate: int, seconds: int) -> dict[str, float]:
    """Open loop: send at a fixed rate whatever the answers; latency counts from the planned time."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=64, pool_maxsize=64)
    session.mount("http://", adapter)
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    total = rate * seconds
    start_at = time.monotonic() + 0.2
    index = iter(range(total))

    def worker() -> None:
        nonlocal failures
        for n in index:
            planned = start_at + n / rate
            delay = planned - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            body, sig = pairs[n]
            response = session.post(
                url,
                data=body,
                timeout=10,
                headers={
                    "X-Twilio-Signature": sig,
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
            elapsed = (time.monotonic() - planned) * 1000
            with lock:
                latencies.append(elapsed)
                failures += response.status_code != 200

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    return {
        "sent": total,
        "p50": statistics.median(latencies),
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "failures": failures,
    }


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    reset_services()
    full_port, ref_port = free_port(), free_port()
    full_url = f"http://127.0.0.1:{full_port}/webhooks/twilio/messages"
    ref_url = f"http://127.0.0.1:{ref_port}/ref"
    count = 3000 * DURATION
    tmp = Path(tempfile.mkdtemp(prefix="mcof-bench-"))
    results: dict[str, dict[str, float]] = {}
    full = start_gunicorn(app_env(), full_port, timeout=30)
    ref = start_gunicorn(app_env(), ref_port, module="bench.reference_app:app", timeout=30)
    try:
        for round_ in (1, 2):
            for name, url in (("full", full_url), ("reference", ref_url)):
                script = tmp / f"{name}{round_}.lua"
                lua_script(signed_requests(url, count, f"{name[0]}{round_}"), script)
                result = run_wrk(url, script)
                best = results.get(name)
                if best is None or result["rps"] > best["rps"]:
                    results[name] = result
        steady_full = steady(full_url, signed_requests(full_url, 200 * 10, "sf"), 200, 10)
        steady_ref = steady(ref_url, signed_requests(ref_url, 200 * 10, "sr"), 200, 10)
    finally:
        stop(full)
        stop(ref)
        shutil.rmtree(tmp, ignore_errors=True)

    engine = sa.create_engine(PG)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM message")).scalar()
        contacts = conn.execute(sa.text("SELECT count(*) FROM contact")).scalar()
    engine.dispose()
    queued = redis.Redis.from_url(REDIS).llen("rq:queue:mcofbench-inbound")

    f, r = results["full"], results["reference"]
    print(
        f"gunicorn 2 workers x 4 gthread threads (tests/servers.py); wrk -t2 -c{CONNECTIONS} -d{DURATION}s; best of 2 rounds"
    )
    print(f"{'':28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    print(
        f"{'full inbound webhook':28}{f['rps']:>10.0f}{f['p50']:>10.2f}{f['p99']:>10.2f}{f['non2xx']:>10}"
    )
    print(
        f"{'reference insert+enqueue':28}{r['rps']:>10.0f}{r['p50']:>10.2f}{r['p99']:>10.2f}{r['non2xx']:>10}"
    )
    print(f"throughput ratio full/reference: {f['rps'] / r['rps']:.2f} (target >= 0.80)")
    print(f"steady 200 req/s for 10 s, open loop ({steady_full['sent']} requests each):")
    print(
        f"  full:      p50 {steady_full['p50']:.1f} ms  p99 {steady_full['p99']:.1f} ms  failures {steady_full['failures']}  (target p99 < 100 ms)"
    )
    print(
        f"  reference: p50 {steady_ref['p50']:.1f} ms  p99 {steady_ref['p99']:.1f} ms  failures {steady_ref['failures']}"
    )
    print(
        f"stored inbound messages: {stored} from {contacts} contacts; inbound jobs queued: {queued}"
    )


if __name__ == "__main__":
    main()
