"""A worker killed with SIGKILL: its scheduler dies with it, and the event it was
delivering is delivered by another worker within a sweep plus a heartbeat, exactly once."""
import os
import signal
import time

from redis import Redis
from sqlalchemy import select, text

from backend.extensions import db
from backend.events.models import OutboxEvent
from backend.notifications.models import Notification
from tests.conftest import postgres_only
from tests.jobs.test_redis_outage import redis_at
from tests.jobs.test_worker_process import count, idle_workers, start_worker, stop, wait_for

pytestmark = postgres_only()

FAST = {"WORKER_HEARTBEAT_TTL_SECONDS": "2", "WORKER_HEARTBEAT_INTERVAL_SECONDS": "0.5"}


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(p) for p in fh.read().split()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_the_scheduler_dies_with_its_killed_worker(app_ctx, redis_url):
    proc = start_worker(app_ctx, redis_url, **FAST)
    try:
        idle_workers(proc, Redis.from_url(redis_url))
        deadline = time.monotonic() + 10
        while not _children(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        scheduler_pids = _children(proc.pid)
        assert scheduler_pids, "the worker started no scheduler process"
        os.kill(proc.pid, signal.SIGKILL)  # the worker alone, not its process group
        proc.wait(5)
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in scheduler_pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(p) for p in scheduler_pids), "the scheduler outlived its worker"
        # Its lock is free again: a new worker's scheduler takes over.
        successor = start_worker(app_ctx, redis_url, **FAST)
        try:
            deadline = time.monotonic() + 10
            while not _children(successor.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _children(successor.pid)
        finally:
            stop(successor)
    finally:
        stop(proc, signal.SIGKILL)


def test_an_event_left_started_by_a_killed_worker_is_delivered_within_seconds(app_ctx, operator, redis_url):
    from rq import Queue
    from rq.registry import StartedJobRegistry

    hospital = operator.register_hospital()
    redis = Redis.from_url(redis_url)
    with redis_at(app_ctx, redis_url):
        assert hospital.issue()[0].status_code == 202  # committed; its delivery job waits in Redis
    event_id = db.session.scalar(select(OutboxEvent.id))
    db.session.rollback()
    blocker = db.engine.connect()
    tx = blocker.begin()
    # Hold the event's row: the worker's delivery blocks mid-job, at its commit.
    blocker.execute(text("SELECT id FROM outbox_events WHERE id = :id FOR UPDATE"), {"id": event_id})
    first = start_worker(app_ctx, redis_url, **FAST)
    try:
        registry = StartedJobRegistry(queue=Queue("piaojia:46:notifications", connection=redis))
        wait_for(lambda: registry.get_job_ids(), what="the delivery to start")
        time.sleep(0.5)  # well inside the job now
        os.kill(first.pid, signal.SIGKILL)
        first.wait(5)
        killed_at = time.monotonic()
        tx.rollback()
        assert count(Notification) == 0 and registry.get_job_ids() == [f"46-deliver-{event_id}"]
        second = start_worker(app_ctx, redis_url, **FAST)
        try:
            wait_for(lambda: count(OutboxEvent, OutboxEvent.dispatched_at.is_not(None)), timeout=60, what="redelivery")
            delay = time.monotonic() - killed_at
        finally:
            stop(second)
        # Bound: heartbeat TTL (2 s) + sweep interval (0.5 s) + the worker's start-up.
        assert delay < 15, f"redelivered {delay:.1f} s after the kill"
        assert count(Notification) == 1
    finally:
        blocker.close()
        stop(first, signal.SIGKILL)
