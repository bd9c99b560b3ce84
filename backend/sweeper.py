"""The sweeper: whatever is due and was not enqueued — undispatched events, due webhook
attempts, expired locks — is enqueued again (or, inline, run). Safe anywhere, any time.

It sits above the domains and delivery: each of them says what of its own is due.
"""
import logging
from datetime import timedelta

from backend.common.models import utcnow
from backend.common.queues import jobs_inline
from backend.events.dispatch import enqueue, job_function
from backend.extensions import db
from backend.federation.outbound import due_cancellations
from backend.notifications.jobs import due_deliveries
from backend.reimbursements.jobs import due_expiries

log = logging.getLogger(__name__)


def sweep(batch: int = 500, min_age: timedelta = timedelta(seconds=5)) -> dict:
    now = utcnow()
    work = due_deliveries(now, min_age, batch) + due_expiries(now, batch) + due_cancellations(now, batch)
    db.session.rollback()
    counts = {"events": 0, "deliveries": 0, "locks": 0, "announcements": 0, "cancellations": 0}
    for kind, func, arg, queue, job_id in work:
        counts[kind] += 1
        if jobs_inline():
            try:
                job_function(func)(arg)
            except Exception:  # noqa: BLE001 - the row stays due for the next sweep
                db.session.rollback()
                log.warning("inline sweep job failed", exc_info=True, extra={"job": str(getattr(func, "__name__", func))})
        else:
            enqueue(func, arg, queue=queue, job_id=job_id, unless_pending=True)
    return counts
