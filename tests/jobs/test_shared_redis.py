"""Two nodes pointed at one Redis: each takes only its own jobs and hears only its own
events (queues, job ids, pub/sub channels and rate-limit counters carry the node)."""
import contextlib

from rq.job import Job
from sqlalchemy import func, select

from backend.common.queues import ALL_QUEUES, get_queue
from backend.common.row_cache import channel_for
from backend.extensions import db
from backend.notifications.channels import stream_channel
from backend.notifications.models import Notification
from tests.jobs.test_redis_outage import redis_at, work


@contextlib.contextmanager
def acting_as(app, province: str, role: str = "node"):
    saved = app.config["NODE_PROVINCE"], app.config.get("NODE_ROLE", "node")
    app.config["NODE_PROVINCE"], app.config["NODE_ROLE"] = province, role
    app.extensions.pop("piaojia_queues", None)
    try:
        yield
    finally:
        app.config["NODE_PROVINCE"], app.config["NODE_ROLE"] = saved
        app.extensions.pop("piaojia_queues", None)


def notifications() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Notification))


def test_a_worker_of_another_node_on_the_same_redis_leaves_this_nodes_jobs_alone(app_ctx, operator, redis_url):
    hospital = operator.register_hospital()
    with redis_at(app_ctx, redis_url) as redis:
        assert hospital.issue()[0].status_code == 202  # its delivery job waits in Redis
        queued = {name: len(get_queue(name)) for name in ALL_QUEUES}
        assert sum(queued.values()) >= 1
        job_ids = [job_id for name in ALL_QUEUES for job_id in get_queue(name).job_ids]
        assert job_ids and all(job_id.startswith("46-") for job_id in job_ids), job_ids
        with acting_as(app_ctx, "44"):
            assert all(len(get_queue(name)) == 0 for name in ALL_QUEUES)
            work(redis)  # node 44's worker, same Redis
        with acting_as(app_ctx, "00", role="hub"):
            work(redis)  # and the hub's
        assert notifications() == 0
        assert {name: len(get_queue(name)) for name in ALL_QUEUES} == queued
        assert all(Job.exists(job_id, connection=redis) for job_id in job_ids)
        work(redis)  # node 46's own worker
    assert notifications() == 1


def test_channels_and_counters_are_named_per_node(app_ctx):
    with acting_as(app_ctx, "44"):
        on_44 = stream_channel("a" * 64), channel_for("redis://127.0.0.1:6379/0", "44")
    with acting_as(app_ctx, "00", role="hub"):
        on_hub = stream_channel("a" * 64)
    assert stream_channel("a" * 64) != on_44[0] and on_hub not in (on_44[0], stream_channel("a" * 64))
    assert channel_for("redis://127.0.0.1:6379/0", "46") != on_44[1]
    assert app_ctx.config["RATELIMIT_KEY_PREFIX"] == "piaojia:46"



def test_failed_attempt_counts_are_the_nodes_own(app_ctx):
    from backend.common import attempts

    with acting_as(app_ctx, "44"):
        for _ in range(3):
            attempts.record_failure("proof", "PROOF_FAILURES_PER_CLIENT", "receipt", "7")
        assert attempts.failures("proof", "PROOF_FAILURES_PER_CLIENT", "receipt", "7") == 3
    assert attempts.failures("proof", "PROOF_FAILURES_PER_CLIENT", "receipt", "7") == 0  # node 46's receipt 7
