"""Outbound send rate through twilio-python against the loopback fake: bare loop vs send_many.

Run ``python -m bench.twilio_bare`` from the repository root. The fake runs in its own process
(``python -m tests.fake_twilio``) so that it does not share this process's GIL. Figures vary by
15-25% between runs on shared machines: compare the ratios printed by one run.

The functions are reused by the fan-out benchmark: ``fake_process``, ``bare_loop_rate``,
``send_many_rate``, ``measure``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from twilio.rest import Client

from mcof_comms.channels.base import OutboundRequest, SendResult
from mcof_comms.channels.twilio.client import make_twilio_client
from mcof_comms.channels.twilio.sender import TwilioSender

ROOT = Path(__file__).resolve().parents[1]
FROM = "+15005550006"
BODY = "Water distribution point B opens tomorrow at 9:00. Reply HELP for info."


@dataclass(frozen=True)
class FakeEndpoint:
    base_url: str
    account_sid: str
    auth_token: str

    def client(self, *, pool_size: int = 64, timeout: float = 30) -> Client:
        """A twilio-python client (ours: pooled, loopback) aimed at this fake."""
        return make_twilio_client(
            self.account_sid,
            self.auth_token,
            api_base_url=self.base_url,
            pool_size=pool_size,
            timeout=timeout,
        )

    def stock_client(self) -> Client:
        """twilio-python exactly as shipped (stock TwilioHttpClient), only its base URL moved."""
        client = Client(self.account_sid, self.auth_token)
        client.api.base_url = self.base_url
        return client


@contextmanager
def fake_process(latency_ms: float = 0.0) -> Iterator[FakeEndpoint]:
    """Run the fake Twilio API in a child process for the duration of the block."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TWILIO_REGION", None)
    env.pop("TWILIO_EDGE", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_twilio", "--port", "0", "--latency-ms", str(latency_ms)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        values = dict(process.stdout.readline().strip().split("=", 1) for _ in range(3))
        yield FakeEndpoint(
            values["FAKE_TWILIO_URL"],
            values["FAKE_TWILIO_ACCOUNT_SID"],
            values["FAKE_TWILIO_AUTH_TOKEN"],
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _to(i: int) -> str:
    return f"+1500555{i % 10000:04d}"


def bare_loop_rate(client: Client, n: int) -> float:
    """Messages per second of a plain sequential ``messages.create`` loop."""
    client.messages.create(to=_to(0), from_=FROM, body=BODY)  # open the connection first
    started = time.perf_counter()
    for i in range(n):
        client.messages.create(to=_to(i), from_=FROM, body=BODY)
    return n / (time.perf_counter() - started)


def send_many_rate(sender: TwilioSender, n: int, max_in_flight: int) -> float:
    """Messages per second of ``TwilioSender.send_many``; every send must succeed."""
    requests_ = (OutboundRequest(message_id=i, to=_to(i), body=BODY, from_=FROM) for i in range(n))
    sender.send(OutboundRequest(message_id=-1, to=_to(0), body=BODY, from_=FROM))
    started = time.perf_counter()
    done = 0
    for _, outcome in sender.send_many(requests_, max_in_flight=max_in_flight):
        if not isinstance(outcome, SendResult):
            raise RuntimeError(f"send failed: {outcome!r}")
        done += 1
    elapsed = time.perf_counter() - started
    assert done == n
    return n / elapsed


@dataclass(frozen=True)
class Figures:
    latency_ms: float
    max_in_flight: int
    bare_stock: float
    bare_ours: float
    many: float

    @property
    def ratio(self) -> float:
        """send_many against the better of the two bare loops."""
        return self.many / max(self.bare_stock, self.bare_ours)


def measure(latency_ms: float, *, n_bare: int, n_many: int, max_in_flight: int) -> Figures:
    """Start a fake with this latency and measure the bare loops and send_many against it."""
    with fake_process(latency_ms) as fake:
        bare_stock = bare_loop_rate(fake.stock_client(), n_bare)
        bare_ours = bare_loop_rate(fake.client(), n_bare)
        sender = TwilioSender(fake.client(pool_size=max(max_in_flight, 32)))
        many = send_many_rate(sender, n_many, max_in_flight)
    return Figures(latency_ms, max_in_flight, bare_stock, bare_ours, many)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="twilio-python send rate against the fake")
    parser.add_argument("--max-in-flight", type=int, default=32)
    parser.add_argument("--n", type=int, default=2000, help="messages per run at 0 ms")
    args = parser.parse_args(argv)
    runs = [
        measure(0, n_bare=args.n, n_many=args.n, max_in_flight=args.max_in_flight),
        measure(100, n_bare=30, n_many=1000, max_in_flight=args.max_in_flight),
    ]
    print(
        f"{'latency':>8} {'in flight':>9} {'bare stock':>11} {'bare ours':>10} "
        f"{'send_many':>10} {'ratio':>6}"
    )
    for f in runs:
        print(
            f"{f.latency_ms:>6.0f}ms {f.max_in_flight:>9} {f.bare_stock:>9.0f}/s "
            f"{f.bare_ours:>8.0f}/s {f.many:>8.0f}/s {f.ratio:>6.2f}"
        )
    fast, slow = runs
    ok = fast.ratio >= 0.8 and slow.many >= 100
    print("targets (>= 0.8 of bare at 0 ms, >= 100 msg/s at 100 ms):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
