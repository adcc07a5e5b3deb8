"""Queues, enqueueing and workers.

Queues are named by stage. One worker serves them all in priority order, so a reply or an
acknowledgement never waits behind a broadcast: inbound triage first, then replies, then the
broadcast planner, then bulk sends, then maintenance.

With ``REDIS_URL`` unset (the embedded quick start) the queues live on an in-memory Redis
(fakeredis) inside the web process and a worker thread drains them. It is real RQ, so retries,
backoff and scheduled jobs behave as in production; RQ's synchronous mode would drop them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import redis
from flask import Flask, current_app, g, has_app_context
from rq import Queue, Retry, SimpleWorker
from rq.exceptions import DuplicateJobError, NoSuchJobError, StopRequested
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from rq.timeouts import TimerDeathPenalty

from config import Settings

logger = logging.getLogger(__name__)

INBOUND = "inbound"
REPLIES = "replies"
BROADCASTS = "broadcasts"
BULK = "bulk"
MAINTENANCE = "maintenance"
#: Priority order: a worker takes from the first non-empty queue.
STAGES = (INBOUND, REPLIES, BROADCASTS, BULK, MAINTENANCE)

DEFAULT_RETRY = Retry(max=5, interval=[5, 30, 120, 600, 1800])
JOB_TIMEOUT = 300
RESULT_TTL = 600
FAILURE_TTL = 14 * 86400


@dataclass
class QueueBackend:
    """The Redis connection and queues of one app (attached as ``app.extensions``)."""

    connection: redis.Redis
    prefix: str
    embedded: bool
    url: str | None = None
    _runner: EmbeddedRunner | None = None

    def queue(self, stage: str, connection: redis.Redis | None = None) -> Queue:
        return Queue(
            f"{self.prefix}-{stage}",
            connection=connection or self.connection,
            default_timeout=JOB_TIMEOUT,
        )

    def queues(
        self, stages: Sequence[str] = STAGES, connection: redis.Redis | None = None
    ) -> list[Queue]:
        return [self.queue(stage, connection) for stage in stages]

    def worker_connection(self) -> redis.Redis:
        """A connection of the worker's own, without the web's 5-second socket timeout.

        A worker waits for jobs in a blocking pop of several minutes. On the web's connection
        that pop inherited a 5 s socket timeout whenever the pool already held a connection
        (the sweeper thread opens one first): redis-py raised TimeoutError, and RQ answers that
        with "Redis connection timeout, quitting". RQ sets this connection's socket timeout
        above its pop timeout; keepalives and health checks find a dropped connection.
        """
        if self.url is None:
            return self.connection
        return redis.Redis.from_url(
            self.url,
            socket_connect_timeout=5,
            socket_keepalive=True,
            health_check_interval=30,
            client_name=WORKER_CLIENT_NAME,
        )


#: The name a worker's queue connection gives itself in Redis (``CLIENT LIST``).
WORKER_CLIENT_NAME = "mcof-worker"


def init_queues(app: Flask, settings: Settings) -> None:
    if settings.redis_url:
        # the web's connection: a stalled Redis must never hold a webhook for long
        connection = redis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=2, socket_timeout=5
        )
        backend = QueueBackend(
            connection, settings.queue_prefix, embedded=False, url=settings.redis_url
        )
    else:
        import fakeredis  # embedded default only; production never imports it

        backend = QueueBackend(
            fakeredis.FakeRedis(server=fakeredis.FakeServer()), settings.queue_prefix, True
        )
    app.extensions["mcof_queues"] = backend


def get_backend(app: Flask | None = None) -> QueueBackend:
    backend: QueueBackend = (app or current_app).extensions["mcof_queues"]
    return backend


def get_redis() -> redis.Redis:
    return get_backend().connection


def waiting(stages: Sequence[str]) -> int:
    """Jobs waiting on these queues that this worker would take next, for bulk work to step
    aside; 0 when Redis cannot say. A worker that does not serve a queue ignores it."""
    backend = get_backend()
    served = g.get("mcof_worker_queues") if has_app_context() else None
    keys = [backend.queue(stage).key for stage in stages]
    keys = [k for k in keys if served is None or k in served]
    if not keys:
        return 0
    try:
        with backend.connection.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.llen(key)
            return sum(int(n) for n in pipe.execute())
    except redis.RedisError:
        return 0


def enqueue(
    stage: str,
    func: str | Callable[..., Any],
    *args: Any,
    job_id: str,
    retry: Retry | None = DEFAULT_RETRY,
    at_front: bool = False,
    delay: timedelta | None = None,
    unique: bool = True,
) -> Job | None:
    """Enqueue a job once: a job already waiting or running under ``job_id`` is left alone.

    A finished, failed or stopped job with the same id is replaced, so the sweeper can retry
    what a crash or an outage left behind. ``unique=False`` skips that check for a caller that
    knows it is the only one enqueueing this id (the webhook that just inserted the row).

    Raises ``redis.RedisError`` when Redis is down: the caller decides whether that matters
    (the webhook does not; the row is already committed).
    """
    backend = get_backend()
    queue = backend.queue(stage)
    options: dict[str, Any] = {
        "job_id": job_id,
        "retry": retry,
        "result_ttl": RESULT_TTL,
        "failure_ttl": FAILURE_TTL,
        "unique": unique,
    }
    try:
        if delay is not None:
            job = queue.enqueue_in(delay, func, *args, **options)
        else:
            job = queue.enqueue(func, *args, at_front=at_front, **options)
    except DuplicateJobError:
        if not _replace_finished(backend, job_id):
            return None
        return enqueue(
            stage, func, *args, job_id=job_id, retry=retry, at_front=at_front, delay=delay
        )
    if backend.embedded:
        start_embedded_worker(current_app._get_current_object())  # type: ignore[attr-defined]
    return job


def _replace_finished(backend: QueueBackend, job_id: str) -> bool:
    try:
        job = Job.fetch(job_id, connection=backend.connection)
    except NoSuchJobError:
        return True
    status = job.get_status(refresh=False)
    if status in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
        job.delete()
        return True
    return False


class AppWorker(SimpleWorker):
    """An RQ worker that runs each job in a fresh app context of one Flask app.

    It does not fork: at tens of milliseconds per job the fork costs more than the work
    (reference/building-block-ceilings.md), and jobs here are short and idempotent. Scale out
    by running more worker processes.
    """

    app: Flask

    def __init__(self, queues: Sequence[Queue], *, app: Flask, **kwargs: Any) -> None:
        super().__init__(queues, **kwargs)
        self.app = app

    def perform_job(self, job: Job, queue: Queue) -> bool:
        with self.app.app_context():
            g.mcof_worker_queues = frozenset(q.key for q in self.queues)
            return super().perform_job(job, queue)


class LongLivedWorker(AppWorker):
    """An :class:`AppWorker` that remembers whether it was asked to stop (SIGTERM, SIGINT)."""

    stop_signalled = False

    def request_stop(self, signum: Any, frame: Any) -> None:
        self.stop_signalled = True
        super().request_stop(signum, frame)


#: Seconds between restarts of a worker loop that ended on its own, doubling up to the cap.
RESTART_DELAYS = (1.0, 30.0)


def run_worker(app: Flask, stages: Sequence[str], *, burst: bool = False) -> None:
    """Serve ``stages`` until asked to stop; never exit on a Redis error.

    RQ's loop ends on errors it does not expect (a timeout, a Redis restart during
    maintenance or a heartbeat) and logs that it is quitting; a worker that exits by itself
    leaves its queues unserved until someone notices. Each ending is logged and followed by a
    fresh worker (a new name: the old one may not have been able to record its death).
    """
    if INBOUND in stages:  # only triage needs the safety model; senders start lean
        warm_up_in_background(app)
    backend = get_backend(app)
    delay = RESTART_DELAYS[0]
    while True:
        started = time.monotonic()
        worker: LongLivedWorker | None = None
        try:
            connection = backend.worker_connection()
            worker = LongLivedWorker(
                backend.queues(stages, connection), app=app, connection=connection
            )
            worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
        except redis.RedisError as exc:
            logger.warning("worker could not reach Redis: %s", type(exc).__name__)
        if burst or (worker is not None and worker.stop_signalled):
            return
        if time.monotonic() - started > 60:
            delay = RESTART_DELAYS[0]
        logger.warning("worker loop ended on its own; starting again in %.0f s", delay)
        try:
            time.sleep(delay)
        except StopRequested:  # the old worker's signal handlers are still installed
            return
        delay = min(delay * 2, RESTART_DELAYS[1])


def warm_up_in_background(app: Flask) -> None:
    """Train the process's safety model beside the worker loop, so jobs that need no model
    (sends, sweeps) start at once and triage jobs wait only for what is left of training."""
    from mcof_comms.pipeline.signal_training import warm_up

    def run() -> None:
        with app.app_context():
            warm_up()

    threading.Thread(target=run, name="mcof-warm-up", daemon=True).start()


class ThreadWorker(AppWorker):
    """An :class:`AppWorker` that can run outside the main thread (no signals)."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass


def enqueue_due_scheduled_jobs(queues: Sequence[Queue]) -> int:
    """Move due retries and delayed jobs onto their queues, as RQ's scheduler does.

    RQ's scheduler runs in a child process; the embedded in-memory Redis lives in this one.
    """
    moved = 0
    for queue in queues:
        registry = ScheduledJobRegistry(queue=queue)
        for job_id in registry.get_jobs_to_schedule():
            try:
                job = Job.fetch(job_id, connection=queue.connection)
            except NoSuchJobError:
                registry.remove(job_id)
                continue
            registry.remove(job)
            queue.enqueue_job(job)
            moved += 1
    return moved


class EmbeddedRunner:
    """Drains the in-memory queues from a daemon thread and sweeps stuck rows periodically."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.backend = get_backend(app)
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._run, name="mcof-embedded-worker", daemon=True)

    def _run(self) -> None:
        from mcof_comms.maintenance import sweep

        warm_up_in_background(self.app)
        settings: Settings = self.app.extensions["mcof_settings"]
        queues = self.backend.queues()
        next_sweep = 0.0
        while True:
            try:
                if time.monotonic() >= next_sweep:
                    with self.app.app_context():
                        sweep()
                    next_sweep = time.monotonic() + settings.sweep_interval_seconds
                enqueue_due_scheduled_jobs(queues)
                worker = ThreadWorker(queues, app=self.app, connection=self.backend.connection)
                worker.work(burst=True, logging_level="WARNING")
            except Exception:
                logger.exception("embedded worker loop failed; retrying")
            self.wake.wait(0.5)
            self.wake.clear()


_runner_lock = threading.Lock()


def start_embedded_worker(app: Flask) -> None:
    """Start the in-process worker thread once per process (embedded default only)."""
    backend = get_backend(app)
    if not backend.embedded:
        return
    with _runner_lock:
        if backend._runner is None:
            backend._runner = EmbeddedRunner(app)
            backend._runner.thread.start()
            logger.warning("embedded queue: jobs run in a thread of this process (no Redis)")
        else:
            backend._runner.wake.set()


class Sweeper(threading.Thread):
    """Runs :func:`mcof_comms.maintenance.sweep` every interval, in one process at a time.

    A Redis lock picks one sweeper across all worker processes; if Redis is down the sweep
    still runs (it only reads the database and enqueues, and enqueueing is idempotent).
    """

    def __init__(self, app: Flask, interval: int) -> None:
        super().__init__(name="mcof-sweeper", daemon=True)
        self.app = app
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        from mcof_comms.maintenance import sweep

        connection = get_backend(self.app).connection
        while not self.stopped.is_set():
            try:
                lock = connection.set(
                    "mcof:sweeper:lock", "1", nx=True, ex=max(self.interval - 1, 1)
                )
            except redis.RedisError:
                lock = True
            if lock:
                try:
                    with self.app.app_context():
                        sweep()
                except Exception:
                    logger.exception("sweep failed; will try again")
            self.stopped.wait(self.interval)
