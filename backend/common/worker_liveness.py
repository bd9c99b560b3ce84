"""Which RQ workers are alive, by a heartbeat of our own.

RQ keeps a started job in its StartedJobRegistry until the job's timeout has passed, even
when the worker running it was killed (`kill -9`, an OOM kill, a lost machine). Each
`python -m backend.worker` therefore refreshes a short-lived key every few seconds from a
thread of its own, also while a job runs; a started job whose worker has no such key is
abandoned and may be enqueued again (every job is idempotent).
"""
import os

PREFIX = "piaojia:worker-alive:"


def heartbeat_ttl() -> float:
    return float(os.environ.get("WORKER_HEARTBEAT_TTL_SECONDS", 10))


def beat(redis, worker_name: str, ttl: float | None = None) -> None:
    redis.set(PREFIX + worker_name, "1", px=int((ttl or heartbeat_ttl()) * 1000))


def forget(redis, worker_name: str) -> None:
    redis.delete(PREFIX + worker_name)


def is_alive(redis, worker_name: str | None) -> bool:
    return bool(worker_name) and bool(redis.exists(PREFIX + worker_name))
