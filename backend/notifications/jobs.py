"""Job functions: importable, taking ids, idempotent, re-raising on failure.

RQ runs them in `python -m backend.worker` (inside an app context); the embedded default
runs the same functions inline.
"""
import logging
import random
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from backend.common.models import utcnow
from backend.extensions import db
from backend.notifications import channels
from backend.events.dispatch import after_commit
from backend.events.models import OutboxEvent
from backend.notifications.models import UnitWebhookDelivery
from backend.common.queues import jobs_inline

log = logging.getLogger(__name__)

# About 5 s, 5 min, 30 min, 2 h, 5 h, 10 h after the previous attempt (Standard Webhooks'
# schedule), each with ±20% jitter; after the last one the delivery is dead.
DEFAULT_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000)


def deliver_event(event_id: str):
    """Fans one outbox event out to inbox, live stream, chat and unit webhooks. Each
    channel is deduplicated by event id, so running this twice delivers once."""
    event = db.session.get(OutboxEvent, event_id)
    if event is None:
        log.warning("event not found", extra={"event_id": event_id})
        return
    notification = channels.to_inbox(event)
    channels.to_chat(event, notification)
    delivery_ids = channels.to_units(event)
    first_dispatch = event.dispatched_at is None
    if first_dispatch and _announce_to_hub(event):
        event.hub_pending = True
        after_commit(ANNOUNCE, event.id, queue="default", job_id=f"announce-{event.id}")
    event.dispatched_at = event.dispatched_at or utcnow()
    event.attempts = (event.attempts or 0) + 1
    for delivery_id in delivery_ids:
        after_commit(send_unit_webhook, delivery_id, queue="webhooks", job_id=f"webhook-{delivery_id}-0")
    db.session.commit()
    if first_dispatch or not jobs_inline():
        channels.to_stream(notification)


ANNOUNCE = "backend.federation.outbound.announce"  # the hub channel, named: delivery does not import federation


def _announce_to_hub(event: OutboxEvent) -> bool:
    """The hub hears of changes to receipts this node issued (synced copies are the issuing
    node's to announce), when federation is on."""
    from backend.receipts.models import Receipt

    if not current_app.config.get("HUB_URL") or current_app.config.get("NODE_ROLE") == "hub" or event.receipt_id is None:
        return False
    return db.session.scalar(select(Receipt.synced_at.is_(None)).where(Receipt.id == event.receipt_id)) is True


def deliver_events(event_ids: list[str]):
    """`deliver_event` for several events (a backfill's): each is idempotent, so a retry of
    the whole list delivers each once; the first failure is re-raised after the rest ran."""
    failure = None
    for event_id in event_ids:
        try:
            deliver_event(event_id)
        except Exception as exc:  # noqa: BLE001 - re-raised below, after the others had their turn
            db.session.rollback()
            failure = failure or exc
    if failure is not None:
        raise failure


def _retry_schedule():
    return tuple(current_app.config.get("WEBHOOK_RETRY_SCHEDULE") or DEFAULT_RETRY_SCHEDULE)


def send_unit_webhook(delivery_id: str):
    """One attempt to deliver an event to a unit's endpoint; schedules the next on failure."""
    from backend.notifications.unit_webhooks import attempt

    now = utcnow()
    # Claim this attempt: only one runner at a time, even if the job was enqueued twice.
    claimed = db.session.execute(
        update(UnitWebhookDelivery)
        .where(UnitWebhookDelivery.id == delivery_id, UnitWebhookDelivery.status == "pending",
               UnitWebhookDelivery.next_attempt_at <= now)
        .values(next_attempt_at=now + timedelta(seconds=current_app.config["WEBHOOK_ATTEMPT_LEASE_SECONDS"]))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if claimed != 1:
        return
    delivery = db.session.get(UnitWebhookDelivery, delivery_id)
    db.session.refresh(delivery)
    result = attempt(delivery)
    entry = {"at": now.isoformat(), "status_code": result.status_code, "error": result.error, "duration_ms": result.duration_ms}
    delivery.log = [*(delivery.log or []), entry][-20:]
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error
    if result.delivered:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", utcnow(), None
    elif result.gone:
        delivery.status, delivery.next_attempt_at = "cancelled", None
        from backend.units.models import Unit

        unit = db.session.get(Unit, delivery.unit_id)
        unit.webhook_url = None  # 410 Gone: the unit has retired this endpoint
        log.info("unit webhook endpoint disabled after 410", extra={"unit_id": unit.id})
    else:
        schedule = _retry_schedule()
        if delivery.attempts > len(schedule):
            delivery.status, delivery.next_attempt_at = "dead", None
        else:
            delay = schedule[delivery.attempts - 1] * random.uniform(0.8, 1.2)
            delivery.next_attempt_at = utcnow() + timedelta(seconds=delay)
            after_commit(send_unit_webhook, delivery.id, at=delivery.next_attempt_at, queue="webhooks",
                         job_id=f"webhook-{delivery.id}-{delivery.attempts}")
    db.session.commit()


def redeliver(delivery: UnitWebhookDelivery):
    """Puts a delivery back in line now (operator or unit request). Caller commits."""
    delivery.status = "pending"
    delivery.next_attempt_at = utcnow()
    after_commit(send_unit_webhook, delivery.id, queue="webhooks", job_id=f"webhook-{delivery.id}-r{delivery.attempts}")


def due_deliveries(now, min_age: timedelta, batch: int = 500) -> list[tuple]:
    """Delivery work the sweeper re-enqueues: undispatched events older than `min_age` (younger
    ones are left to the job their own commit enqueued) and due unit-webhook attempts."""
    events = db.session.scalars(
        select(OutboxEvent.id).where(OutboxEvent.dispatched_at.is_(None), OutboxEvent.occurred_at <= now - min_age)
        .order_by(OutboxEvent.occurred_at).limit(batch)).all()
    deliveries = db.session.scalars(
        select(UnitWebhookDelivery.id).where(UnitWebhookDelivery.status == "pending", UnitWebhookDelivery.next_attempt_at <= now)
        .order_by(UnitWebhookDelivery.next_attempt_at).limit(batch)).all()
    announcements = db.session.scalars(
        select(OutboxEvent.id).where(OutboxEvent.hub_pending.is_(True), OutboxEvent.dispatched_at <= now - min_age)
        .order_by(OutboxEvent.occurred_at).limit(batch)).all()
    return [("events", deliver_event, e, "notifications", f"deliver-{e}") for e in events] + \
        [("deliveries", send_unit_webhook, d, "webhooks", f"webhook-{d}-sweep") for d in deliveries] + \
        [("announcements", ANNOUNCE, e, "default", f"announce-{e}-sweep") for e in announcements]
