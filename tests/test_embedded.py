"""The quick start: SQLite and the in-process queue, end to end, as a newcomer runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import requests

from config import ROOT
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, inbound_params, sign
from tests.servers import free_port

pytestmark = pytest.mark.embedded


def test_quick_start_receives_and_processes_a_message(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "MCOF_ENV"}
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'quick.db'}",
        SECRET_KEY="quick-start",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        SWEEP_INTERVAL_SECONDS="1",
    )
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    port = free_port()
    server = subprocess.Popen(
        [*flask, "serve", "--port", str(port)], cwd=ROOT, env=env, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = requests.get(base + "/healthz", timeout=1)
                break
            except requests.ConnectionError:
                assert server.poll() is None, "the quick start exited"
                assert time.monotonic() < deadline, "the quick start never answered"
                time.sleep(0.2)
        assert health.json()["queue_backend"] == "embedded"
        assert health.status_code == 200

        subprocess.run(
            [
                *flask,
                "users",
                "create",
                "--email",
                "admin@example.org",
                "--password",
                "long-password",
                "--role",
                "admin",
            ],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        token = (
            subprocess.run(
                [*flask, "tokens", "create", "--email", "admin@example.org"],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )

        url = base + "/webhooks/twilio/messages"
        params = inbound_params("The road to the camp is flooded", sender="+50937001111")
        response = requests.post(
            url, data=params, headers={"X-Twilio-Signature": sign(url, params)}, timeout=5
        )
        assert response.status_code == 200

        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:
            page = requests.get(
                base + "/api/v1/messages?direction=in",
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            ).json()
            status = page["data"][0]["status"]
            if status == "processed":
                break
            time.sleep(0.2)
        assert status == "processed"
    finally:
        server.terminate()
        server.wait(10)
