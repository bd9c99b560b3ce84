"""`python -m backend.worker [QUEUE ...]`: the RQ worker, with its scheduler, on the
project's queues (DESIGN §5a; all of them unless named), plus a periodic sweep.

- Naming queues splits the work: `python -m backend.worker webhooks` beside
  `python -m backend.worker notifications default` keeps a slow unit endpoint (up to
  15 s per attempt) from delaying citizens' notifications.

- Jobs run in the worker process itself (RQ's SimpleWorker), inside a Flask app context
  (AppJob): our jobs are short database-and-HTTP tasks, and forking a work horse per job
  cost more than the job (bench/push). Crash safety does not depend on the horse: every
  job acts on database rows that stay due until done, and the sweeper re-enqueues them.
  Run several worker processes for parallelism.
- The scheduler (`with_scheduler=True`) moves jobs scheduled with enqueue_at / enqueue_in
  (lock expiries, webhook retries) onto their queues when due.
- A sweeper thread runs `sweep` every SWEEP_INTERVAL seconds: undispatched events (Redis
  was down at commit), due webhook retries and expired locks that lost their jobs.
- A heartbeat thread refreshes this worker's liveness key (backend.common.worker_liveness)
  every WORKER_HEARTBEAT_INTERVAL seconds, also while a job runs: after a `kill -9` the key
  lapses within WORKER_HEARTBEAT_TTL_SECONDS and the next sweep re-enqueues the job the
  dead worker left started, instead of waiting for RQ's own clean-up (minutes).
- The scheduler runs in a child process that gets SIGTERM when the worker dies, however
  it dies (Linux parent-death signal), so a killed worker never leaves it holding the
  scheduler lock.
- SIGTERM / SIGINT: RQ's warm shutdown — the current job finishes, then the worker exits.
"""
import ctypes
import logging
import os
import signal
import sys
import threading

from redis.exceptions import ConnectionError as RedisConnectionError
from rq import SimpleWorker
from rq.job import Job
from rq.scheduler import RQScheduler

from backend import create_app
from backend.common import worker_liveness
from backend.common.queues import ALL_QUEUES, get_queue

log = logging.getLogger("piaojia.worker")
SWEEP_INTERVAL = float(os.environ.get("SWEEP_INTERVAL_SECONDS", 30))
HEARTBEAT_INTERVAL = float(os.environ.get("WORKER_HEARTBEAT_INTERVAL_SECONDS", 2))
PR_SET_PDEATHSIG = 1

_app = None
_pid_with_fresh_pool = None


def _application():
    global _app
    if _app is None:
        _app = create_app()
    return _app


class AppJob(Job):
    """Runs the job function inside the app context, with this process's own DB pool."""

    def perform(self):
        global _pid_with_fresh_pool
        app = _application()
        with app.app_context():
            if _pid_with_fresh_pool != os.getpid():
                from backend.extensions import db

                db.engine.dispose(close=False)  # never share connections across a fork
                _pid_with_fresh_pool = os.getpid()
            return super().perform()


def _die_with_parent(parent_pid: int) -> None:
    """In a child process: ask the kernel for SIGTERM when the parent dies (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the scheduler lock's own TTL frees it later
        return
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


class ParentBoundScheduler(RQScheduler):
    """RQ's scheduler, ending with the worker that started it."""

    def start(self):
        self._parent_pid = os.getpid()
        return super().start()

    def work(self):
        _die_with_parent(self._parent_pid)
        return super().work()


class PiaojiaWorker(SimpleWorker):
    def _start_scheduler(self, burst=False, logging_level="INFO", date_format=None, log_format=None):
        # RQ's own _start_scheduler with our scheduler class.
        self.scheduler = ParentBoundScheduler(self.queues, connection=self.connection, logging_level=logging_level,
                                              serializer=self.serializer)
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            if burst:
                try:
                    self.scheduler.register_birth()
                    self.scheduler.enqueue_scheduled_jobs()
                finally:
                    self.scheduler.release_locks()
                    self.scheduler.register_death()
            else:
                self.scheduler.start()


def _beat_forever(connection, current: dict, stop: threading.Event):
    while True:
        name = current.get("name")
        if name:
            try:
                worker_liveness.beat(connection, name)
            except Exception:  # noqa: BLE001 - Redis away: the main loop reconnects; keep beating
                log.debug("heartbeat failed", exc_info=True)
        if stop.wait(HEARTBEAT_INTERVAL):
            return


def _sweep_forever(app, stop: threading.Event):
    from backend.sweeper import sweep

    while not stop.wait(SWEEP_INTERVAL):
        try:
            with app.app_context():
                counts = sweep()
                if any(counts.values()):
                    log.info("sweep enqueued due work", extra=counts)
        except Exception:  # noqa: BLE001 - keep sweeping; the error is logged
            log.exception("sweep failed")


def queue_names(argv) -> list[str]:
    """The queues to listen on, in priority order: those named, or all of them."""
    names = list(argv) or list(ALL_QUEUES)
    unknown = [name for name in names if name not in ALL_QUEUES]
    if unknown:
        raise ValueError(f"unknown queue(s) {', '.join(unknown)}; the queues are {', '.join(ALL_QUEUES)}")
    return list(dict.fromkeys(names))


def main(argv=None) -> int:
    try:
        names = queue_names(sys.argv[1:] if argv is None else argv)
    except ValueError as exc:
        print(f"backend.worker: {exc}", file=sys.stderr)
        return 2
    app = _application()
    if not app.config.get("REDIS_URL"):
        print("backend.worker needs REDIS_URL (without it, jobs run inline in the web process).", file=sys.stderr)
        return 2
    with app.app_context():
        queues = [get_queue(name) for name in names]
        connection = queues[0].connection
    stop = threading.Event()
    current = {}
    sweeper = threading.Thread(target=_sweep_forever, args=(app, stop), name="piaojia-sweeper", daemon=True)
    sweeper.start()
    threading.Thread(target=_beat_forever, args=(connection, current, stop), name="piaojia-heartbeat", daemon=True).start()
    try:
        while True:
            worker = PiaojiaWorker(queues, connection=connection, job_class=AppJob)
            current["name"] = worker.name
            try:
                worker.work(with_scheduler=True, logging_level=app.config.get("LOG_LEVEL", "INFO"))
                return 0  # a warm shutdown (SIGTERM/SIGINT) ends here
            except RedisConnectionError:
                # Redis went away: wait for it and start over; nothing is lost, the
                # database still says what is due and the sweeper re-enqueues it.
                log.warning("lost the Redis connection; retrying in 2 s")
                if stop.wait(2):
                    return 0
    finally:
        stop.set()
        try:
            worker_liveness.forget(connection, current.get("name") or "")
        except Exception:  # noqa: BLE001 - Redis away: the key lapses on its own
            pass


if __name__ == "__main__":
    sys.exit(main())
