"""The one place a receipt change is recorded: its timeline entry, in the caller's
transaction. (The events issue adds the outbox row here, in the same transaction.)"""
from backend.common.actors import Actor
from backend.extensions import db
from backend.receipts.models import Receipt, TimelineEntry

EVENT_TYPES = (
    "receipt.issued", "receipt.red_reversed", "receipt.paper_exchanged", "receipt.voided",
    "receipt.authorized", "receipt.locked", "receipt.unlocked", "receipt.lock_expired",
    "receipt.reimbursed", "receipt.reimbursement_rejected",
)


def record_change(receipt: Receipt, event: str, actor: Actor, *, reason=None, data=None) -> TimelineEntry:
    if event not in EVENT_TYPES:
        raise ValueError(f"unknown receipt event {event}")
    entry = TimelineEntry(
        receipt_id=receipt.id, event=event, actor_type=actor.type, actor_id=actor.id,
        actor_name=actor.name, reason=reason, data=data,
    )
    db.session.add(entry)
    return entry
