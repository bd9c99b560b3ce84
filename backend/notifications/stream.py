"""The citizen's live stream (Server-Sent Events, DESIGN §4/§5).

With Redis, every web process subscribes to the citizen's pub/sub channel, so any
process can serve any citizen; without it (the embedded default) the stream polls the
inbox. `Last-Event-ID` resumes from the inbox. Heartbeat comments keep proxies from
closing an idle stream; each stream ends after STREAM_MAX_SECONDS and the browser's
EventSource reconnects with Last-Event-ID, so no worker is held forever.

The frame generator needs no Flask context: it gets the engine and the Redis client and
holds a database connection only for the instant of each query.
"""
import json
import threading
import time

from sqlalchemy import select

from backend.common.errors import DomainError, Unauthorized
from backend.notifications.channels import notification_payload, stream_channel
from backend.ops.metrics import SSE_CONNECTIONS
from backend.notifications.models import Notification

HEARTBEAT_SECONDS = 15
POLL_SECONDS = 1.0


class StreamCapacityReached(DomainError):
    status = 503
    code = "stream_capacity"
    title = "实时通知连接已满，请稍后重试"


class WebStreamSlots:
    """At most `limit` streams held by this web process at once (0: no limit): a stream
    sent to the web app by mistake must not take every thread the API needs."""

    def __init__(self):
        self.lock = threading.Lock()
        self.open = 0

    def take(self, limit: int):
        with self.lock:
            if limit and self.open >= limit:
                refused = StreamCapacityReached(
                    "This web process holds as many streams as it may; the stream server serves them.", extra={"retry_after": 5})
                refused.headers = {"Retry-After": "5"}
                raise refused
            self.open += 1
        return _Slot(self)


class _Slot:
    def __init__(self, slots):
        self.slots, self.released = slots, False

    def release(self):
        with self.slots.lock:
            if not self.released:
                self.released = True
                self.slots.open -= 1


WEB_STREAM_SLOTS = WebStreamSlots()


class Held:
    """A WSGI body that gives its slot back when the server closes it (started or not)."""

    def __init__(self, frames, slot):
        self.frames, self.slot = frames, slot

    def __iter__(self):
        return iter(self.frames)

    def close(self):
        try:
            self.frames.close()
        finally:
            self.slot.release()


def frame(payload: dict) -> str:
    data = json.dumps(payload, ensure_ascii=False)
    return f"id: {payload['id']}\nevent: {payload['type']}\ndata: {data}\n\n"


def resume_point(session, payer_hash: str, last_event_id: str | None) -> int:
    """The inbox position to resume after: the notification of Last-Event-ID, or now."""
    if last_event_id:
        found = session.scalar(select(Notification.id).where(Notification.payer_hash == payer_hash, Notification.event_id == last_event_id))
        if found is not None:
            return found
    latest = session.scalar(select(Notification.id).where(Notification.payer_hash == payer_hash).order_by(Notification.id.desc()).limit(1))
    return latest or 0


def open_stream() -> tuple[str, int]:
    """Authenticates the stream request in the current Flask request context (a Bearer
    token, or a one-time ticket) and finds where to resume: (payer_hash, position)."""
    from flask import request

    from backend.common.auth import authenticate_citizen, authenticate_stream_ticket, bearer_token
    from backend.extensions import db

    if "Authorization" in request.headers:
        citizen = authenticate_citizen(bearer_token())
    elif request.args.get("ticket"):
        citizen = authenticate_stream_ticket(request.args["ticket"])
    else:
        raise Unauthorized("A Bearer access token or a stream ticket is required.", code="missing_token")
    last_event_id = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    return citizen.id_hash, resume_point(db.session, citizen.id_hash, last_event_id)


def backlog(engine, payer_hash: str, position: int, limit=500) -> list[tuple[int, dict]]:
    """The citizen's inbox entries after `position`: (position, payload) each, oldest first."""
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        rows = session.scalars(select(Notification).where(Notification.payer_hash == payer_hash, Notification.id > position)
                               .order_by(Notification.id).limit(limit)).all()
        return [(n.id, notification_payload(n)) for n in rows]


def events(engine, redis, payer_hash: str, position: int, max_seconds: float, clock=time.monotonic, *, channel: str | None = None):
    """Generator of SSE frames: replay after `position`, then live events until the deadline.
    `channel`: the node's pub/sub channel for this payer (named in the request's app context)."""
    pubsub = None
    if redis is not None:
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(channel or stream_channel(payer_hash))  # before the replay, so nothing falls in between
    sent = set()
    SSE_CONNECTIONS.inc()
    try:
        yield "retry: 3000\n: connected\n\n"
        for position, payload in backlog(engine, payer_hash, position):
            sent.add(payload["id"])
            yield frame(payload)
        deadline = clock() + max_seconds
        last_beat = clock()
        while clock() < deadline:
            fresh = []
            if pubsub is not None:
                message = pubsub.get_message(timeout=min(HEARTBEAT_SECONDS, max(deadline - clock(), 0.01)))
                if message and message.get("type") == "message":
                    fresh = [json.loads(message["data"])]
            else:
                time.sleep(POLL_SECONDS)
                rows = backlog(engine, payer_hash, position)
                if rows:
                    position = rows[-1][0]
                fresh = [payload for _, payload in rows]
            for payload in fresh:
                if payload["id"] not in sent:
                    sent.add(payload["id"])
                    last_beat = clock()
                    yield frame(payload)
            if clock() - last_beat >= HEARTBEAT_SECONDS:
                last_beat = clock()
                yield ": heartbeat\n\n"
    finally:
        SSE_CONNECTIONS.dec()
        if pubsub is not None:
            pubsub.close()
