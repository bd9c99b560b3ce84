"""Writing events into the outbox, in the caller's transaction (DESIGN §4)."""
from sqlalchemy import insert, select

from backend.common.models import new_uuid, utcnow
from backend.extensions import db
from backend.notifications.models import OutboxEvent

EVENT_TYPES = (
    "receipt.issued", "receipt.red_reversed", "receipt.paper_exchanged", "receipt.voided",
    "receipt.authorized", "receipt.locked", "receipt.unlocked", "receipt.lock_expired",
    "receipt.reimbursed", "receipt.reimbursement_rejected",
    "authorization.requested", "authorization.approved", "authorization.declined", "authorization.revoked",
)


_INSERT_OUTBOX = insert(OutboxEvent.__table__)


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
    from backend.notifications.dispatch import after_commit
    from backend.notifications.jobs import deliver_event

    after_commit(deliver_event, event_id, queue="notifications", job_id=f"deliver-{event_id}")
    return event_id


def interested_units(receipt, *extra_unit_ids) -> set[str]:
    """Units that hear about a receipt: its lock holder and units it is authorized to."""
    from backend.authorizations.models import AuthorizedReceipt

    now = utcnow()
    with db.session.no_autoflush:  # nothing pending changes the answer; let the inserts batch at commit
        units = set(db.session.scalars(
            select(AuthorizedReceipt.unit_id).where(
                AuthorizedReceipt.receipt_id == receipt.id, AuthorizedReceipt.revoked_at.is_(None), AuthorizedReceipt.expires_at > now)
        ))
    if receipt.lock_unit_id:
        units.add(receipt.lock_unit_id)
    units.update(u for u in extra_unit_ids if u)
    return units
