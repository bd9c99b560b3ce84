"""The project's RQ queues, in one place; `python -m backend.worker` listens on all of them.

Jobs are enqueued only after the transaction that made them necessary has committed
(see backend.events.dispatch). Without REDIS_URL (the embedded default) the same
job functions run inline.
"""
from flask import current_app
from rq import Queue, Retry

from backend.common.redis_client import get_redis

DEFAULT = "default"
NOTIFICATIONS = "notifications"
WEBHOOKS = "webhooks"
# Deliveries of back-filled receipts (`receipt.batch`): last, so a hospital catching up on
# thousands of receipts never delays the pushes of receipts issued now.
BULK = "bulk"
ALL_QUEUES = (NOTIFICATIONS, WEBHOOKS, DEFAULT, BULK)

# Retries for internal jobs (a database hiccup, a Redis blip): quick, with backoff.
JOB_RETRY = Retry(max=5, interval=[2, 10, 30, 120, 600])


def get_queue(name: str = DEFAULT) -> Queue | None:
    redis = get_redis()
    if redis is None:
        return None
    queues = current_app.extensions.setdefault("piaojia_queues", {})
    if name not in queues:
        queues[name] = Queue(name, connection=redis, default_timeout=60)
    return queues[name]


def jobs_inline() -> bool:
    return get_redis() is None
