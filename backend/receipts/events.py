"""The one place a receipt change is recorded: its timeline entry and its outbox event,
both in the caller's transaction (DESIGN §4)."""
from backend.common.actors import Actor
from backend.extensions import db
from backend.notifications.outbox import EVENT_TYPES, emit, interested_units
from backend.receipts.models import Receipt, TimelineEntry

RECEIPT_EVENT_TYPES = tuple(t for t in EVENT_TYPES if t.startswith("receipt."))


def record_change(receipt: Receipt, event: str, actor: Actor, *, reason=None, data=None) -> TimelineEntry:
    if event not in RECEIPT_EVENT_TYPES:
        raise ValueError(f"unknown receipt event {event}")
    entry = TimelineEntry(
        receipt_id=receipt.id, event=event, actor_type=actor.type, actor_id=actor.id,
        actor_name=actor.name, reason=reason, data=data,
    )
    db.session.add(entry)
    acting_unit = ((data or {}).get("unit") or {}).get("id")
    # A receipt that was just issued concerns no unit yet.
    units = interested_units(receipt, acting_unit) if event != "receipt.issued" else ()
    emit(event, receipt=receipt, unit_ids=units, data={
        "receipt_key": receipt.key,
        "actor": {"type": actor.type, "name": actor.name},
        "reason": reason,
        **(data or {}),
    })
    return entry
