"""The citizen's live stream (Server-Sent Events, DESIGN §4/§5).

With Redis, every web process subscribes to the citizen's pub/sub channel, so any
process can serve any citizen; without it (the embedded default) the stream polls the
inbox. `Last-Event-ID` resumes from the inbox. Heartbeat comments keep proxies from
closing an idle stream; each stream ends after STREAM_MAX_SECONDS and the browser's
EventSource reconnects with Last-Event-ID, so a worker is never held forever.
"""
import json
import time

from flask import current_app
from sqlalchemy import select

from backend.common.redis_client import get_redis
from backend.extensions import db
from backend.notifications.channels import notification_payload, stream_channel
from backend.notifications.models import Notification

HEARTBEAT_SECONDS = 15
POLL_SECONDS = 1.0


def _frame(payload: dict) -> str:
    data = json.dumps(payload, ensure_ascii=False)
    return f"id: {payload['id']}\nevent: {payload['type']}\ndata: {data}\n\n"


def _after(payer_hash: str, notification_id: int, limit=500) -> list[Notification]:
    return db.session.scalars(
        select(Notification).where(Notification.payer_hash == payer_hash, Notification.id > notification_id)
        .order_by(Notification.id).limit(limit)).all()


def _resume_point(payer_hash: str, last_event_id: str | None) -> int:
    """The inbox position to resume after: the notification of Last-Event-ID, or now."""
    if last_event_id:
        found = db.session.scalar(select(Notification.id).where(Notification.payer_hash == payer_hash, Notification.event_id == last_event_id))
        if found is not None:
            return found
    latest = db.session.scalar(select(Notification.id).where(Notification.payer_hash == payer_hash).order_by(Notification.id.desc()).limit(1))
    return latest or 0


def events(app, payer_hash: str, last_event_id: str | None, max_seconds: float):
    """Generator of SSE frames. Holds no database connection while waiting."""
    with app.app_context():
        redis = get_redis()
        pubsub = None
        if redis is not None:
            pubsub = redis.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(stream_channel(payer_hash))  # before the replay, so nothing falls between
        position = _resume_point(payer_hash, last_event_id)
        sent = set()
        yield f"retry: 3000\n: connected\n\n"
        try:
            for n in _after(payer_hash, position):
                position = n.id
                sent.add(n.event_id)
                yield _frame(notification_payload(n))
            db.session.remove()
            deadline = time.monotonic() + max_seconds
            last_beat = time.monotonic()
            while time.monotonic() < deadline:
                if pubsub is not None:
                    message = pubsub.get_message(timeout=min(HEARTBEAT_SECONDS, max(deadline - time.monotonic(), 0.01)))
                    if message and message.get("type") == "message":
                        payload = json.loads(message["data"])
                        if payload["id"] not in sent:
                            sent.add(payload["id"])
                            yield _frame(payload)
                            last_beat = time.monotonic()
                else:
                    time.sleep(POLL_SECONDS)
                    for n in _after(payer_hash, position):
                        position = n.id
                        if n.event_id not in sent:
                            sent.add(n.event_id)
                            yield _frame(notification_payload(n))
                            last_beat = time.monotonic()
                    db.session.remove()
                if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                    last_beat = time.monotonic()
                    yield ": heartbeat\n\n"
        finally:
            if pubsub is not None:
                pubsub.close()
            db.session.remove()


def max_seconds() -> float:
    return float(current_app.config.get("STREAM_MAX_SECONDS", 3600))
