"""Real servers on loopback for tests and benchmarks: gunicorn running the app, empty databases."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO

import requests
import sqlalchemy as sa

from config import ROOT


def recreate_database(url: str) -> str:
    """Drop and create the PostgreSQL database ``url`` names (connections to it are ended);
    return ``url``. Raises SQLAlchemy's OperationalError when PostgreSQL does not answer."""
    parsed = sa.engine.make_url(url)
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        admin.dispose()
    return url


def start_worker(
    env: Mapping[str, str], *args: str, log: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """``flask worker *args`` in a process group of its own (end it with ``os.killpg``)."""
    output = log if log is not None else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "worker", *args],
        cwd=ROOT,
        env=dict(env),
        stdout=output,
        stderr=output,
        start_new_session=True,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(
    env: Mapping[str, str],
    port: int,
    *,
    module: str = "app:app",
    workers: int = 2,
    threads: int = 4,
    timeout: float = 60,
) -> subprocess.Popen[bytes]:
    """Start gunicorn on loopback with exactly ``env`` and return once ``/healthz`` answers.

    Shared by the tests and the benchmarks, so both measure the same server set-up.
    """
    process = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", module,
            "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--threads", str(threads),
            "--worker-class", "gthread", "--log-level", "warning",
        ],
        cwd=ROOT,
        env=dict(env),
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            return process
        except requests.RequestException:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"gunicorn ({module}) did not start") from None
            time.sleep(0.1)


def stop(process: subprocess.Popen[bytes], wait: float = 10) -> None:
    """Ask a server or worker to finish (SIGTERM), then kill it after ``wait`` seconds."""
    process.terminate()
    try:
        process.wait(wait)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def gunicorn(env: Mapping[str, str], *, workers: int = 2, threads: int = 4) -> Iterator[str]:
    """Run ``gunicorn app:app`` with ``env`` and yield its base URL once it answers."""
    port = free_port()
    process = start_gunicorn(
        {**os.environ, **env}, port, workers=workers, threads=threads, timeout=30
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
