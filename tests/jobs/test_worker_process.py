"""The production path for real: `python -m backend.worker` as its own process, on real
Redis and PostgreSQL, with the web side enqueueing after commit."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import func, select

from backend.extensions import db
from backend.events.models import OutboxEvent
from backend.notifications.models import Notification, UnitWebhookDelivery
from tests.conftest import postgres_only
from tests.jobs.test_redis_outage import redis_at
from tests.receiver import Receiver
from tests.support import UnitClient, receipt_key

pytestmark = postgres_only()
ROOT = Path(__file__).resolve().parents[2]


def start_worker(app, redis_url, *queues, **env):
    environment = {
        **os.environ, "PIAOJIA_ENV": "test", "TEST_REDIS_URL": redis_url, "PIAOJIA_INSTANCE_PATH": app.instance_path,
        "TEST_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "SWEEP_INTERVAL_SECONDS": "0.5",
        "WEBHOOK_RETRY_SCHEDULE": "0.5,0.5,0.5", "WEBHOOK_ATTEMPT_LEASE_SECONDS": "2", "LOG_LEVEL": "WARNING", **env,
    }
    return subprocess.Popen([sys.executable, "-m", "backend.worker", *queues], cwd=ROOT, env=environment,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def stop(proc, sig=signal.SIGTERM):
    if proc.poll() is None:
        os.killpg(proc.pid, sig)  # the worker, its scheduler and its work horse
    try:
        return proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(5)


def wait_for(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        db.session.rollback()
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture()
def worker(app_ctx, redis_url):
    proc = start_worker(app_ctx, redis_url)
    yield proc
    stop(proc)


def count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_worker_delivers_and_retries_a_failing_endpoint(app_ctx, operator, redis_url, worker):
    unit = UnitClient.open(operator)
    _, sent = operator.register_hospital().issue()  # inline: before Redis is switched on
    with Receiver(statuses=(500, 200)) as receiver, redis_at(app_ctx, redis_url):
        unit.client.put("/api/v1/unit/webhook", headers=unit.headers, json={"url": receiver.url})
        assert unit.lock_with_proof(sent).status_code == 201
        wait_for(lambda: count(UnitWebhookDelivery, UnitWebhookDelivery.status == "delivered"), what="delivery")
        assert [r["headers"]["webhook-id"] for r in receiver.requests] == [receiver.requests[0]["headers"]["webhook-id"]] * 2
        wait_for(lambda: count(Notification) == 2, what="inbox")


def idle_workers(proc, redis):
    """The registered workers once one is idle: registered and past installing its signal
    handlers (a SIGTERM before that would kill it, not stop it gracefully)."""
    from rq import Worker

    deadline = time.monotonic() + 15
    while not any(w.get_state() == "idle" for w in Worker.all(connection=redis)) and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = Worker.all(connection=redis)
    assert workers, proc.stderr.read1().decode() if proc.poll() is not None else "worker never registered"
    return workers


def test_sigterm_is_a_graceful_shutdown(app_ctx, redis_url):
    proc = start_worker(app_ctx, redis_url)
    from rq import Worker

    redis = Redis.from_url(redis_url)
    idle_workers(proc, redis)
    assert stop(proc, signal.SIGTERM) == 0
    assert Worker.all(connection=redis) == []


def test_worker_killed_mid_delivery_loses_nothing(app_ctx, operator, redis_url):
    unit = UnitClient.open(operator)
    _, sent = operator.register_hospital().issue()
    first = start_worker(app_ctx, redis_url)
    try:
        with Receiver(statuses=(200,), delay=3.0) as receiver, redis_at(app_ctx, redis_url):
            unit.client.put("/api/v1/unit/webhook", headers=unit.headers, json={"url": receiver.url})
            assert unit.lock_with_proof(sent).status_code == 201
            wait_for(lambda: receiver.requests, what="the first attempt to arrive")
            stop(first, signal.SIGKILL)  # mid-request: the receiver has it, the worker never heard back
            assert count(UnitWebhookDelivery, UnitWebhookDelivery.status == "delivered") == 0
            receiver.delay = 0
            second = start_worker(app_ctx, redis_url)
            try:
                wait_for(lambda: count(UnitWebhookDelivery, UnitWebhookDelivery.status == "delivered"), what="redelivery")
            finally:
                stop(second)
            # The receiver saw the same webhook-id twice and, deduplicating by it, the event once.
            ids = receiver.event_ids()
            assert len(ids) >= 2 and len(set(ids)) == 1
            assert count(Notification) == 2
    finally:
        stop(first, signal.SIGKILL)


def test_redis_stopped_and_restarted_mid_traffic(app_ctx, operator, tmp_path):
    """A Redis of our own on another port, stopped and started again while receipts flow."""
    port = 6391
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
    redis_proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = Redis.from_url(url)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                break
            except Exception:  # noqa: BLE001
                time.sleep(0.1)
        hospital = operator.register_hospital()
        worker = start_worker(app_ctx, url)
        try:
            with redis_at(app_ctx, url):
                for _ in range(5):
                    assert hospital.issue()[0].status_code == 202
                redis_proc.terminate()
                redis_proc.wait(10)
                for _ in range(5):  # Redis is down: requests still succeed
                    assert hospital.issue()[0].status_code == 202
                redis_proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for _ in range(5):
                    assert hospital.issue()[0].status_code == 202
                wait_for(lambda: count(OutboxEvent, OutboxEvent.dispatched_at.is_(None)) == 0, timeout=40, what="every event dispatched")
                assert count(Notification) == 15 == count(OutboxEvent)
        finally:
            stop(worker)
    finally:
        redis_proc.kill()
        redis_proc.wait(5)


def test_sse_client_gets_the_event_after_an_issuer_webhook(app_ctx, client, operator, redis_url, worker):
    from tests.api.test_notifications import read_frames
    from tests.support import ZHANG_SAN_ID, citizen_login

    zhang = citizen_login(client, "zhangsan")
    hospital = operator.register_hospital()
    with redis_at(app_ctx, redis_url):
        app_ctx.config["STREAM_MAX_SECONDS"] = 15
        try:
            stream = app_ctx.test_client().get("/api/v1/me/stream", headers=zhang, buffered=False)
            frames = []
            import threading

            reader = threading.Thread(target=lambda: frames.extend(read_frames(stream, 1, timeout=15)), daemon=True)
            reader.start()
            time.sleep(0.5)  # the stream subscribes before anything is published
            _, sent = hospital.issue(payer_id=ZHANG_SAN_ID)
            reader.join(15)
        finally:
            app_ctx.config["STREAM_MAX_SECONDS"] = 3600
    assert [f["event"] for f in frames] == ["receipt.issued"]
    assert receipt_key(sent) in frames[0]["data"]


def test_lock_expiry_is_scheduled_and_notifies_citizen_and_unit(app_ctx, operator, redis_url, worker, monkeypatch):
    from backend.receipts.models import Receipt, TimelineEntry

    monkeypatch.setitem(app_ctx.config, "LOCK_TTL_SECONDS", 2)
    unit = UnitClient.open(operator)
    _, sent = operator.register_hospital().issue()
    with Receiver() as receiver, redis_at(app_ctx, redis_url):
        unit.client.put("/api/v1/unit/webhook", headers=unit.headers, json={"url": receiver.url})
        assert unit.lock_with_proof(sent).status_code == 201
        wait_for(lambda: count(TimelineEntry, TimelineEntry.event == "receipt.lock_expired"), timeout=30, what="the expiry job")
        wait_for(lambda: count(Notification, Notification.type == "receipt.lock_expired"), what="the citizen's notification")
        wait_for(lambda: "receipt.lock_expired" in [json.loads(r["body"])["type"] for r in receiver.requests], what="the unit's webhook")
    assert db.session.scalar(select(Receipt.lock_id)) is None


def test_a_worker_listens_on_the_queues_it_is_given(app_ctx, redis_url):
    """Operators split the work: a worker of its own for the unit webhooks' queue."""
    redis = Redis.from_url(redis_url)
    proc = start_worker(app_ctx, redis_url, "webhooks")
    try:
        (registered,) = idle_workers(proc, redis)
        assert registered.queue_names() == ["piaojia:46:webhooks"]
    finally:
        assert stop(proc) == 0


def test_an_unknown_queue_is_refused():
    out = subprocess.run([sys.executable, "-m", "backend.worker", "webhooks", "emails"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "unknown queue(s) emails" in out.stderr
