"""The project's RQ queues, in one place; `python -m backend.worker` listens on all of them.

Jobs are enqueued only after the transaction that made them necessary has committed
(see backend.events.dispatch). Without REDIS_URL (the embedded default) the same
job functions run inline.
"""
from flask import current_app
from rq import Queue, Retry

from backend.common.redis_client import get_redis, node_namespace

DEFAULT = "default"
NOTIFICATIONS = "notifications"
WEBHOOKS = "webhooks"
# Deliveries of back-filled receipts (`receipt.batch`): last, so a hospital catching up on
# thousands of receipts never delays the pushes of receipts issued now.
BULK = "bulk"
ALL_QUEUES = (NOTIFICATIONS, WEBHOOKS, DEFAULT, BULK)

# Retries for internal jobs (a database hiccup, a Redis blip): quick, with backoff.
JOB_RETRY = Retry(max=5, interval=[2, 10, 30, 120, 600])


def redis_queue_name(name: str, config=None) -> str:
    """The RQ queue behind a queue of ours: `piaojia:46:default` on node 46."""
    return f"piaojia:{node_namespace(config)}:{name}"


def job_key(job_id: str | None) -> str | None:
    """Our job ids (`deliver-…`, `webhook-7-0`) carry the node: two nodes on one Redis
    never overwrite each other's jobs."""
    return f"{node_namespace()}-{job_id}" if job_id else job_id


def get_queue(name: str = DEFAULT) -> Queue | None:
    redis = get_redis()
    if redis is None:
        return None
    queues = current_app.extensions.setdefault("piaojia_queues", {})
    if name not in queues:
        queues[name] = Queue(redis_queue_name(name), connection=redis, default_timeout=60)
    return queues[name]


def jobs_inline() -> bool:
    return get_redis() is None
