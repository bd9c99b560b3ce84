"""What operators see of background work: failed RQ jobs and dead webhook deliveries."""
from sqlalchemy import func, select

from backend.common.queues import ALL_QUEUES, get_queue
from backend.extensions import db
from backend.events.models import OutboxEvent
from backend.notifications.models import UnitWebhookDelivery
from backend.common.validators import iso_timestamp


def overview(limit: int = 50) -> dict:
    failed = []
    for name in ALL_QUEUES:
        queue = get_queue(name)
        if queue is None:
            continue
        registry = queue.failed_job_registry
        for job_id in registry.get_job_ids(0, limit - 1):
            job = queue.fetch_job(job_id)
            if job is None:
                continue
            failed.append({"id": job.id, "queue": name, "function": job.func_name, "args": [str(a) for a in job.args],
                           "ended_at": iso_timestamp(job.ended_at),
                           "error": (job.latest_result().exc_string or "").strip().splitlines()[-1:] if job.latest_result() else None})
    dead = db.session.scalar(select(func.count()).select_from(UnitWebhookDelivery).where(UnitWebhookDelivery.status == "dead"))
    undispatched = db.session.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.dispatched_at.is_(None)))
    return {"failed_jobs": failed, "dead_webhook_deliveries": dead, "undispatched_events": undispatched,
            "queues": {name: (len(get_queue(name)) if get_queue(name) is not None else None) for name in ALL_QUEUES}}
