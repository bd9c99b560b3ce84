"""The one place a receipt change is recorded: its timeline entry and its outbox event,
both in the caller's transaction (DESIGN §4)."""
from dataclasses import dataclass

from sqlalchemy import insert

from backend.common.actors import Actor
from backend.common.models import utcnow
from backend.extensions import db
from backend.authorizations.queries import interested_units
from backend.events.outbox import EVENT_TYPES, emit, emit_many
from backend.receipts.models import Receipt, TimelineEntry

_INSERT_TIMELINE = insert(TimelineEntry.__table__)
RECEIPT_EVENT_TYPES = tuple(t for t in EVENT_TYPES if t.startswith("receipt."))


@dataclass(frozen=True)
class NewReceipt:
    """A receipt just inserted by a Core statement: what recording its issue needs."""

    id: int
    code: str
    number: str
    payer_hash: str
    lock_unit_id: None = None

    @property
    def key(self) -> str:
        return f"{self.code}-{self.number}"


def record_change(receipt: Receipt | NewReceipt, event: str, actor: Actor, *, reason=None, data=None, units=None) -> None:
    """Appends the timeline entry and emits the event (Core inserts: nothing reads them
    back in this transaction, and they are the hot path of every change). `units`: the
    interested units when the caller already knows them (several changes in a row)."""
    if event not in RECEIPT_EVENT_TYPES:
        raise ValueError(f"unknown receipt event {event}")
    db.session.execute(_INSERT_TIMELINE, dict(
        receipt_id=receipt.id, event=event, at=utcnow(), actor_type=actor.type, actor_id=actor.id,
        actor_name=actor.name, reason=reason, data=data,
    ))
    acting_unit = ((data or {}).get("unit") or {}).get("id")
    # A receipt that was just issued concerns no unit yet.
    if event == "receipt.issued":
        units = ()
    elif units is not None:
        units = set(units) | ({acting_unit} if acting_unit else set())
    else:
        units = interested_units(receipt, acting_unit)
    emit(event, receipt=receipt, unit_ids=units, data={
        "receipt_key": receipt.key,
        "actor": {"type": actor.type, "name": actor.name},
        "reason": reason,
        **(data or {}),
    })


def record_issued_many(receipts: list[NewReceipt], actor: Actor, totals: list[str]) -> None:
    """`record_change(…, "receipt.issued", …)` for a batch of new receipts: the timeline
    entries and outbox events written with one multi-row insert each."""
    now = utcnow()
    data = [{"total_amount": total} for total in totals]
    db.session.execute(_INSERT_TIMELINE, [dict(receipt_id=r.id, event="receipt.issued", at=now, actor_type=actor.type,
                                               actor_id=actor.id, actor_name=actor.name, reason=None, data=d)
                                          for r, d in zip(receipts, data)])
    emit_many("receipt.issued", [(r, {"receipt_key": r.key, "actor": {"type": actor.type, "name": actor.name}, "reason": None, **d})
                                 for r, d in zip(receipts, data)])
