"""Never lose a message: Redis outages, lost jobs and killed workers."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from rq.registry import StartedJobRegistry
from sqlalchemy import select, text

from mcof_comms.extensions import db
from mcof_comms.jobs import INBOUND, STAGES, WORKER_CLIENT_NAME, LongLivedWorker, get_backend
from mcof_comms.maintenance import sweep
from mcof_comms.models import Direction, Message, MessageStatus
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL, inbound_params, sign
from tests.servers import start_worker

PATH = "/webhooks/twilio/messages"
INBOUND_STATUS = select(Message.status).where(Message.direction == Direction.IN)


def test_redis_down_then_back_loses_nothing(make_app, app, run_jobs):
    down = make_app(redis_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    bodies = [f"message {n} while the queue is down" for n in range(3)]
    for body in bodies:
        params = inbound_params(body)
        response = down.test_client().post(
            PATH,
            data=params,
            headers={"X-Twilio-Signature": sign("http://localhost" + PATH, params)},
        )
        assert response.status_code == 200  # persisted; Twilio must not retry or fall back

    with app.app_context():  # Redis is back: the sweeper finds what was left
        waiting = select(db.func.count()).where(Message.status == MessageStatus.RECEIVED)
        assert db.session.scalar(waiting) == 3
        result = sweep()
        assert result.inbound == 3
        run_jobs()
        statuses = db.session.scalars(INBOUND_STATUS).all()
        assert statuses == [MessageStatus.PROCESSED] * 3


def test_sweep_requeues_a_message_whose_job_vanished(app_ctx, twilio_post, run_jobs, redis):
    twilio_post(PATH, inbound_params("lost job"))
    redis.flushdb()  # Redis restarted without persistence: the job is gone
    assert get_backend().queue(INBOUND).count == 0

    assert sweep().inbound == 1
    assert sweep().inbound == 0 or get_backend().queue(INBOUND).count == 1  # idempotent
    run_jobs()
    assert db.session.scalars(INBOUND_STATUS).one() is MessageStatus.PROCESSED


def test_requeue_stuck_command(app, twilio_post, run_jobs, redis):
    twilio_post(PATH, inbound_params("stuck"))
    redis.flushdb()
    result = app.test_cli_runner().invoke(args=["requeue-stuck"])
    assert result.exit_code == 0, result.output
    assert "re-enqueued 1 inbound" in result.output
    run_jobs()
    with app.app_context():
        assert db.session.scalars(INBOUND_STATUS).one() is MessageStatus.PROCESSED


def test_worker_killed_mid_job_does_not_lose_the_message(app, twilio_post, run_jobs):
    env = {
        **os.environ,
        "DATABASE_URL": TEST_DATABASE_URL,
        "REDIS_URL": TEST_REDIS_URL,
        "QUEUE_PREFIX": "mcoftest",
        "SECRET_KEY": "x",
        "SWEEP_INTERVAL_SECONDS": "3600",
    }
    with app.app_context():
        twilio_post(PATH, inbound_params("the worker dies while I am processed"))
        message_id = db.session.scalars(select(Message.id)).one()
        db.session.commit()
    # hold the row lock so the worker blocks inside the job, then kill it there
    with app.app_context(), db.engine.connect() as lock:
        lock.execute(text("SELECT id FROM message WHERE id = :id FOR UPDATE"), {"id": message_id})
        worker = start_worker(env)
        queue = get_backend(app).queue(INBOUND)
        registry = StartedJobRegistry(queue=queue)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and registry.count == 0:
            time.sleep(0.1)
        assert registry.count == 1, "the worker never started the job"
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
        lock.rollback()

    with app.app_context():
        assert db.session.get(Message, message_id).status is MessageStatus.RECEIVED
        # RQ notices the dead worker once the job's heartbeat expires; fast-forward that clock
        registry.cleanup(int(time.time()) + 3600)
        deadline = time.monotonic() + 20  # the retry is scheduled after its first backoff
        while time.monotonic() < deadline:
            run_jobs()
            db.session.expire_all()
            if db.session.get(Message, message_id).status is MessageStatus.PROCESSED:
                break
            time.sleep(0.5)
        assert db.session.get(Message, message_id).status is MessageStatus.PROCESSED


def _worker_clients(redis) -> list[dict]:
    db_index = redis.connection_pool.connection_kwargs.get("db", 0)
    return [
        c
        for c in redis.client_list()
        if c.get("name") == WORKER_CLIENT_NAME and int(c.get("db", -1)) == db_index
    ]


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_a_worker_outlasts_socket_timeouts_and_a_dropped_redis_connection(
    app, twilio_post, redis, tmp_path
):
    """A worker once quit 5 s after starting ("Redis connection timeout, quitting"): its
    blocking pop ran on the web's connection and its 5 s socket timeout."""
    env = {
        **os.environ,
        "DATABASE_URL": TEST_DATABASE_URL,
        "REDIS_URL": TEST_REDIS_URL,
        "QUEUE_PREFIX": "mcoftest",
        "SECRET_KEY": "x",
        "SWEEP_INTERVAL_SECONDS": "3600",
    }
    with open(tmp_path / "worker.log", "wb") as log:
        worker = start_worker(env, log=log)
    try:
        _wait_for(lambda: _worker_clients(redis), 30, "the worker never connected")
        time.sleep(8)  # longer than the web connection's socket timeout
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()

        for client in _worker_clients(redis):  # only this worker's, only on the test database
            redis.client_kill_filter(_id=client["id"])
        time.sleep(2)
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()

        with app.app_context():
            twilio_post(PATH, inbound_params("written after Redis dropped the worker"))
            message_id = db.session.scalars(select(Message.id)).one()

        def processed() -> bool:
            with app.app_context():
                status = db.session.get(Message, message_id).status
                return status is MessageStatus.PROCESSED

        _wait_for(processed, 30, "the worker did not take the job after the drop")
        assert worker.poll() is None
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
    assert worker.returncode == 0, (tmp_path / "worker.log").read_text()


def test_the_workers_blocking_pop_never_runs_on_the_webs_short_timeout(app):
    """The cause of the quitting worker: the web's pool held connections made with a 5 s socket
    timeout (the sweeper's, an enqueue's), and RQ's blocking pop of minutes took one of them."""
    backend = get_backend(app)
    pool = backend.connection.connection_pool
    held = [pool.get_connection() for _ in range(3)]
    for connection in held:
        pool.release(connection)

    connection = backend.worker_connection()
    worker = LongLivedWorker(backend.queues(STAGES, connection), app=app, connection=connection)
    started = time.monotonic()
    # a pop of 7 s, longer than the web's socket timeout: no TimeoutError, just no job
    assert worker.dequeue_job_and_maintain_ttl(timeout=7, max_idle_time=7) is None
    assert time.monotonic() - started >= 6.5
