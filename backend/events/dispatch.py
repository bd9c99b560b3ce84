"""Jobs enqueued only after commit (DESIGN §4).

Services call `after_commit(func, *args, at=None)`; an `after_commit` hook on every
SQLAlchemy session then enqueues those jobs on RQ (at `at`, with the scheduler, when
given). If Redis is unreachable nothing fails: the rows those jobs would act on (outbox
events, webhook deliveries, locks) stay due in the database and the sweeper enqueues them
later. Without Redis (the embedded default) immediate jobs run inline at the end of the
request — a session cannot run SQL inside its own after_commit hook — and scheduled ones
are left to the sweeper, which the embedded default runs every 30 seconds after a request.
"""
import logging
import time

from flask import has_app_context
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import event
from sqlalchemy.orm import Session

from backend.common.queues import JOB_RETRY, get_queue, job_key, jobs_inline

log = logging.getLogger(__name__)
PENDING_KEY = "piaojia_jobs_pending"
CANCEL_KEY = "piaojia_jobs_cancel"
INLINE_KEY = "piaojia_jobs_inline"
SWEEP_EVERY_SECONDS = 30


def job_function(func):
    """A job function, or its import path (how lower layers name jobs of higher ones)."""
    if isinstance(func, str):
        from rq.utils import import_attribute

        return import_attribute(func)
    return func


def _name(func) -> str:
    return func if isinstance(func, str) else func.__name__


def after_commit(func, *args, at=None, queue="default", job_id=None):
    """Schedules `func(*args)` — a function or its import path — to run after the current
    transaction commits."""
    from backend.extensions import db

    db.session.info.setdefault(PENDING_KEY, []).append((func, args, at, queue, job_id))


def cancel_after_commit(job_id: str, queue="default"):
    """Withdraws a scheduled job (one no longer needed) after the current transaction
    commits. Best effort: a job left behind finds nothing to do when it runs."""
    from backend.extensions import db

    db.session.info.setdefault(CANCEL_KEY, []).append((queue, job_id))


def enqueue(func, *args, queue="default", job_id=None, unless_pending=False) -> bool:
    """Enqueues one job now (the sweeper; commits use `enqueue_all`); False (and logged)
    when Redis is unreachable. With `unless_pending`, a job whose id is still queued,
    scheduled or running is left alone."""
    job_id = job_key(job_id)
    try:
        q = get_queue(queue)
        if unless_pending and job_id:
            from rq.job import JobStatus
            from rq.exceptions import NoSuchJobError

            try:
                status = Job.fetch(job_id, connection=q.connection).get_status()
            except NoSuchJobError:
                status = None
            if status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
                return True
            if status == JobStatus.STARTED and not _abandoned(job_id, q):
                return True
        q.enqueue(func, *args, retry=JOB_RETRY, job_id=job_id)
        return True
    except Exception as exc:  # noqa: BLE001 - Redis down must not fail the request; the sweeper catches up
        log.warning("could not enqueue job; the sweeper will pick it up", extra={"job": _name(func), "error": type(exc).__name__})
        return False


def _abandoned(job_id: str, queue) -> bool:
    """A started job whose worker stopped beating (killed mid-job): taken out of RQ's
    started registry so that it can be enqueued again at once."""
    from rq.registry import StartedJobRegistry

    from backend.common import worker_liveness

    job = Job.fetch(job_id, connection=queue.connection)
    if worker_liveness.is_alive(queue.connection, job.worker_name):
        return False
    StartedJobRegistry(queue=queue).remove_executions(job)
    log.warning("re-enqueueing a job its dead worker left started", extra={"job_id": job_id, "worker": job.worker_name})
    return True


def enqueue_all(jobs, cancellations=()) -> bool:
    """Enqueues a commit's jobs — immediate and scheduled, on any queues — and withdraws
    the scheduled jobs it made pointless, in one Redis round trip. False (and logged) when
    Redis is unreachable."""
    try:
        by_queue: dict[str, list] = {}
        # All queues share one Redis connection: one pipeline carries everything.
        pipe = get_queue().connection.pipeline()
        for queue, job_id in cancellations:
            q = get_queue(queue)
            ScheduledJobRegistry(queue=q).remove(job_key(job_id), pipeline=pipe)
            pipe.delete(Job.key_for(job_key(job_id)))
        for func, args, at, queue, job_id in jobs:
            q = get_queue(queue)
            job_id = job_key(job_id)
            if at is None:
                by_queue.setdefault(queue, []).append(Queue.prepare_data(func, args, job_id=job_id, retry=JOB_RETRY))
            else:
                q.schedule_job(q.create_job(func, args=args, job_id=job_id, retry=JOB_RETRY), at, pipeline=pipe)
        for queue, datas in by_queue.items():
            get_queue(queue).enqueue_many(datas, pipeline=pipe)
        pipe.execute()
        return True
    except Exception as exc:  # noqa: BLE001 - Redis down must not fail the request; the sweeper catches up
        log.warning("could not enqueue jobs; the sweeper will pick them up",
                    extra={"jobs": sorted({_name(job[0]) for job in jobs}), "cancellations": len(cancellations),
                           "error": type(exc).__name__})
        return False


@event.listens_for(Session, "after_commit")
def _after_commit(session):
    jobs = session.info.pop(PENDING_KEY, None) or []
    cancellations = session.info.pop(CANCEL_KEY, None) or []
    if not (jobs or cancellations) or not has_app_context():
        return
    if jobs_inline():  # nothing is scheduled inline: scheduled work is left to the sweeper
        session.info.setdefault(INLINE_KEY, []).extend(job for job in jobs if job[2] is None)
        return
    enqueue_all(coalesce_deliveries(jobs), cancellations)


def coalesce_deliveries(jobs: list) -> list:
    """One delivery job per queue for a commit's events, instead of one per event: a
    feedback's `receipt.reimbursed` and `receipt.unlocked` then reach every channel in the
    order they happened, even with several workers, and the worker pays its per-job cost once."""
    from backend.events.outbox import DELIVER_EVENT, DELIVER_EVENTS, DELIVERY_CHUNK

    singles = [job for job in jobs if job[0] == DELIVER_EVENT and job[2] is None]
    if len(singles) < 2:
        return jobs
    by_queue: dict[str, list[str]] = {}
    for _func, args, _at, queue, _job_id in singles:
        by_queue.setdefault(queue, []).append(args[0])
    rest = [job for job in jobs if not (job[0] == DELIVER_EVENT and job[2] is None)]
    return rest + [(DELIVER_EVENTS, (chunk,), None, queue, f"deliver-many-{chunk[0]}")
                   for queue, ids in by_queue.items()
                   for chunk in (ids[start:start + DELIVERY_CHUNK] for start in range(0, len(ids), DELIVERY_CHUNK))]


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session, previous_transaction):
    if not session.in_transaction():
        session.info.pop(PENDING_KEY, None)
        session.info.pop(CANCEL_KEY, None)


def drain_inline():
    """Embedded default: run the jobs the request's commits asked for, inline."""
    from backend.extensions import db

    session = db.session()
    for _ in range(100):  # jobs may commit and ask for more jobs; bounded
        jobs = session.info.pop(INLINE_KEY, None)
        if not jobs:
            break
        for func, args, _at, _queue, _job_id in jobs:
            try:
                job_function(func)(*args)
            except Exception:  # noqa: BLE001 - the row stays due; the sweeper retries it
                db.session.rollback()
                log.exception("inline job failed", extra={"job": _name(func)})


def init_app(app, sweep):
    """Runs the request's jobs inline after it (embedded default), and `sweep` — passed in by
    the app, which knows every domain's due work — every SWEEP_EVERY_SECONDS."""
    state = {"last_sweep": time.monotonic()}

    @app.after_request
    def _run_inline_jobs(response):
        if jobs_inline():
            drain_inline()
            if not app.testing and time.monotonic() - state["last_sweep"] > SWEEP_EVERY_SECONDS:
                state["last_sweep"] = time.monotonic()
                try:
                    sweep()
                    drain_inline()
                except Exception:  # noqa: BLE001
                    log.exception("inline sweep failed")
        return response
