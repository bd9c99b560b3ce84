"""Writing events into the outbox, in the caller's transaction (DESIGN §4)."""
from sqlalchemy import insert

from backend.common.models import new_uuid, utcnow
from backend.events.dispatch import after_commit
from backend.extensions import db
from backend.events.models import OutboxEvent

EVENT_TYPES = (
    "receipt.issued", "receipt.red_reversed", "receipt.paper_exchanged", "receipt.voided",
    "receipt.authorized", "receipt.locked", "receipt.unlocked", "receipt.lock_expired",
    "receipt.reimbursed", "receipt.reimbursement_rejected", "receipt.booked",
    "authorization.requested", "authorization.approved", "authorization.declined", "authorization.revoked",
)


_INSERT_OUTBOX = insert(OutboxEvent.__table__)
# Delivery is named, not imported: this layer does not depend on who delivers.
DELIVER_EVENT = "backend.notifications.jobs.deliver_event"
DELIVER_EVENTS = "backend.notifications.jobs.deliver_events"
# A worker runs one job at a time: a chunk of 25 deliveries (~0.1 s) is the longest a live push
# waits behind a back-fill (bulk queue, bench/REPORT.md).
DELIVERY_CHUNK = 25


def _row(event_type: str, receipt, payer_hash, unit_ids, data) -> dict:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type}")
    return dict(
        id=new_uuid(), type=event_type, occurred_at=utcnow(),
        receipt_id=receipt.id if receipt is not None else None,
        receipt_key=receipt.key if receipt is not None else None,
        payer_hash=payer_hash or (receipt.payer_hash if receipt is not None else None),
        unit_ids=sorted({u for u in unit_ids if u}), data=data, attempts=0,
    )


def emit_many(event_type: str, items) -> list[str]:
    """`emit` for many receipts at once (a backfill): one multi-row insert. `items`:
    (receipt, data) pairs."""
    rows = [_row(event_type, receipt, None, (), data) for receipt, data in items]
    if rows:
        db.session.execute(_INSERT_OUTBOX, rows)
    ids = [row["id"] for row in rows]
    for start in range(0, len(ids), DELIVERY_CHUNK):  # a job per chunk, not per event: enqueuing is the cost
        chunk = ids[start:start + DELIVERY_CHUNK]
        after_commit(DELIVER_EVENTS, chunk, queue="bulk", job_id=f"deliver-many-{chunk[0]}")
    return ids


def emit(event_type: str, *, receipt=None, payer_hash=None, unit_ids=(), data=None) -> str:
    """Inserts an outbox row (a Core insert, in the caller's transaction) and returns its
    id; the event is delivered after that transaction commits."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type}")
    event_id = new_uuid()
    db.session.execute(_INSERT_OUTBOX, dict(
        id=event_id, type=event_type, occurred_at=utcnow(),
        receipt_id=receipt.id if receipt is not None else None,
        receipt_key=receipt.key if receipt is not None else None,
        payer_hash=payer_hash or (receipt.payer_hash if receipt is not None else None),
        unit_ids=sorted({u for u in unit_ids if u}), data=data, attempts=0,
    ))
    after_commit(DELIVER_EVENT, event_id, queue="notifications", job_id=f"deliver-{event_id}")
    return event_id
