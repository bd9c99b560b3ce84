"""The production job path in-process: RQ on real Redis, and Redis unreachable at commit."""
import contextlib
from datetime import timedelta

from redis import Redis
from rq import SimpleWorker
from sqlalchemy import func, select

from backend.common.queues import ALL_QUEUES, get_queue
from backend.extensions import db
from backend.notifications.jobs import deliver_event
from backend.sweeper import sweep
from backend.events.models import OutboxEvent
from backend.notifications.models import Notification, UnitWebhookDelivery
from tests.receiver import Receiver
from tests.support import UnitClient


@contextlib.contextmanager
def redis_at(app, url):
    saved = app.extensions.get("piaojia_redis")
    app.extensions["piaojia_redis"] = Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2)
    app.extensions.pop("piaojia_queues", None)
    try:
        yield app.extensions["piaojia_redis"]
    finally:
        app.extensions["piaojia_redis"] = saved
        app.extensions.pop("piaojia_queues", None)


def work(redis):
    queues = [get_queue(name) for name in ALL_QUEUES]
    SimpleWorker(queues, connection=redis).work(burst=True, with_scheduler=False)


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_redis_down_at_commit_loses_nothing_and_fails_no_request(app_ctx, operator, redis_url):
    hospital = operator.register_hospital()
    with redis_at(app_ctx, "redis://127.0.0.1:1/0"):
        resp, _ = hospital.issue()
    assert resp.status_code == 202
    event = db.session.scalar(select(OutboxEvent))
    assert event.dispatched_at is None and count(Notification) == 0
    with redis_at(app_ctx, redis_url) as redis:
        assert sweep()["events"] == 0  # younger than 5 s: its own job may still be on the way
        assert sweep(min_age=timedelta(0))["events"] == 1
        work(redis)
    db.session.expire_all()
    assert count(Notification) == 1
    assert db.session.get(OutboxEvent, event.id).dispatched_at is not None


def test_a_job_enqueued_twice_delivers_once_per_channel(app_ctx, operator, redis_url):
    hospital = operator.register_hospital()
    unit = UnitClient.open(operator)
    with Receiver() as receiver:
        unit.client.put("/api/v1/unit/webhook", headers=unit.headers, json={"url": receiver.url})
        _, sent = hospital.issue()
        with redis_at(app_ctx, redis_url) as redis:
            unit.lock_with_proof(sent)  # enqueued on RQ now, not run inline
            locked = db.session.scalar(select(OutboxEvent).where(OutboxEvent.type == "receipt.locked"))
            assert locked.dispatched_at is None
            for _ in range(2):
                get_queue("notifications").enqueue(deliver_event, locked.id)
            work(redis)
        db.session.expire_all()
        assert count(Notification) == 2  # issued + locked, each once
        assert count(UnitWebhookDelivery) == 1
        assert receiver.event_ids() == [locked.id]


def test_a_lock_schedules_its_expiry_and_withdraws_it_when_it_ends(app_ctx, operator, redis_url):
    """One scheduled expiry per open lock: a renewal moves it, feedback withdraws it (it
    would otherwise wait in Redis for the rest of the lease), and every job the feedback's
    commit asked for is on its queue."""
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    def scheduled():
        return ScheduledJobRegistry(queue=get_queue("default")).get_job_ids()

    unit = UnitClient.open(operator)
    _, sent = operator.register_hospital().issue()
    key = f"{sent['code']}-{sent['number']}"
    with redis_at(app_ctx, redis_url) as redis:
        redis.flushdb()
        locked = unit.lock_with_proof(sent)
        token = locked.json["lock_token"]
        (first,) = scheduled()
        assert first.startswith("46-expire-") and redis.exists(Job.key_for(first))
        app_ctx.config["LOCK_TTL_SECONDS"] += 3600
        try:
            assert unit.post(f"/receipts/{key}/renew", json={"lock_token": token}).status_code == 200
        finally:
            app_ctx.config["LOCK_TTL_SECONDS"] -= 3600
        (second,) = scheduled()
        assert second != first and not redis.exists(Job.key_for(first))
        assert unit.feedback(key, token, amount="10.00").status_code == 201
        assert scheduled() == [] and not redis.exists(Job.key_for(second))
        events = db.session.scalars(select(OutboxEvent.id).where(OutboxEvent.type != "receipt.issued")).all()
        assert len(events) == 3  # locked, reimbursed, unlocked
        queue = get_queue("notifications")
        delivered = [queue.fetch_job(job_id).args[0] for job_id in queue.job_ids]  # the lock's event; the feedback's two in one job
        assert sorted(e for ids in delivered for e in ([ids] if isinstance(ids, str) else ids)) == sorted(events) and len(delivered) == 2
        work(redis)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.dispatched_at.is_(None))) == 0


def test_backfilled_receipts_wait_behind_receipts_issued_now(app_ctx, operator, redis_url):
    """A receipt.batch's deliveries go to the bulk queue, which the worker takes last: the
    citizen of a receipt issued during a hospital's back-fill is notified first."""
    from rq.registry import FinishedJobRegistry

    hospital = operator.register_hospital()
    with redis_at(app_ctx, redis_url) as redis:
        backfill = [hospital.sign(hospital.receipt()) for _ in range(3)]
        assert hospital.push("receipt.batch", {"receipts": backfill}).status_code == 202
        resp, _ = hospital.issue()
        assert resp.status_code == 202
        assert len(get_queue("bulk").job_ids) == 1 and len(get_queue("notifications").job_ids) == 1
        work(redis)
        finished = {name: FinishedJobRegistry(queue=get_queue(name)) for name in ("bulk", "notifications")}
        ended = {name: [(job.ended_at, job.id) for job in get_queue(name).job_class.fetch_many(registry.get_job_ids(), connection=redis)]
                 for name, registry in finished.items()}
    assert ended["notifications"][0][0] < ended["bulk"][0][0]
    assert count(Notification) == 4


def test_a_commits_events_are_delivered_by_one_job_in_their_order(app_ctx, operator, redis_url):
    """A feedback commits receipt.reimbursed and receipt.unlocked: one delivery job carries
    both, in that order, so even several workers cannot deliver them the other way round."""
    from backend.events.outbox import DELIVER_EVENTS

    hospital = operator.register_hospital()
    unit = UnitClient.open(operator)
    _, receipt = hospital.issue()
    with redis_at(app_ctx, redis_url) as redis:
        locked = unit.lock_with_proof(receipt)
        assert locked.status_code == 201, locked.get_json()
        queue = get_queue("notifications")
        before = set(queue.job_ids)
        done = unit.feedback(f"{receipt['code']}-{receipt['number']}", locked.get_json()["lock_token"], amount="10.00")
        assert done.status_code == 201, done.get_json()
        (job_id,) = set(queue.job_ids) - before
        job = queue.fetch_job(job_id)
        assert job.func_name == DELIVER_EVENTS
        types = [db.session.get(OutboxEvent, event_id).type for event_id in job.args[0]]
        assert types == ["receipt.reimbursed", "receipt.unlocked"]
        work(redis)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.dispatched_at.is_(None))) == 0
