"""What a node sends on its own: announcements of its receipts' changes and the undoing of
a lock whose answer never arrived. Delivery side: it reads
models and never calls a domain's services; jobs take ids, are idempotent and re-raise.
"""
import logging

from flask import current_app
from sqlalchemy import select

from backend.extensions import db
from backend.federation import messages, snapshot, transport
from backend.federation.models import PendingCancellation
from backend.receipts.models import Receipt

log = logging.getLogger(__name__)
SETTLE_RELEASE = "backend.federation.forward.settle_release"


def announcement_token(receipt: Receipt) -> str:
    snap = snapshot.build(receipt)
    return messages.seal("receipt.announce", {"payer_fhash": receipt.payer_fhash, "snapshot": snap}, "hub")


def to_hub(token: str) -> dict:
    """The hub's answer body; raises when it is unreachable or refuses (the job retries)."""
    from backend.federation.exchange import read_answer

    _, claims = messages.peek(token)
    status, body = read_answer(transport.post(current_app.config["HUB_URL"], token), expect_from="hub",
                               in_reply_to=claims["jti"], msg_type=claims["typ"])
    if status >= 300:
        raise transport.IssuingNodeUnavailable(f"The hub answered {status}: {(body.get('problem') or body.get('result') or {})}.")
    return body.get("result") or {}


def announce(event_id: str):
    """Sends the current state of the event's receipt to the hub. The state, not the change:
    a late or repeated announcement is harmless (copies only move forward). The event stays
    `hub_pending` until the hub took it, so the sweeper retries while the hub is away."""
    from backend.events.models import OutboxEvent

    event = db.session.get(OutboxEvent, event_id)
    if event is None or not event.hub_pending:
        return
    receipt = db.session.get(Receipt, event.receipt_id)
    if receipt is not None and receipt.synced_at is None and receipt.payer_fhash:
        to_hub(announcement_token(receipt))
    event.hub_pending = False
    db.session.commit()


def cancel_lock(jti: str):
    """Undo a lock whose answer never reached us (see inbound._cancel). Idempotent; re-raises
    while the issuing node has not seen the request and it could still arrive there."""
    from backend.common.models import as_utc, utcnow
    from backend.federation.exchange import send
    from backend.units.models import Unit

    pending = db.session.get(PendingCancellation, jti)
    if pending is None or pending.done_at is not None:
        return
    unit = db.session.get(Unit, pending.unit_id)
    _, body = send(unit, "unit.cancel", pending.receipt_key, {"jti": jti})
    outcome = (body.get("result") or {}).get("result") or (body.get("problem") or {}).get("code") or "unknown"
    if outcome == "unknown" and utcnow() < as_utc(pending.not_after):
        raise transport.IssuingNodeUnavailable("The issuing node has not seen the lock request yet; retrying.")
    pending.done_at, pending.result = utcnow(), outcome
    db.session.commit()
    log.info("remote lock cancellation settled", extra={"receipt_key": pending.receipt_key, "result": outcome})


def due_cancellations(now, batch: int = 500) -> list[tuple]:
    """Both kinds of pending undoing; a cancelled unit's release is settled by
    `forward.settle_release` (it applies the answer's snapshot, which delivery may not)."""
    rows = db.session.execute(select(PendingCancellation.jti, PendingCancellation.kind).where(PendingCancellation.done_at.is_(None))
                              .order_by(PendingCancellation.created_at).limit(batch)).all()
    return [("cancellations", SETTLE_RELEASE if kind == "unit_cancelled" else cancel_lock, jti, "default", f"fed-cancel-{jti}-sweep")
            for jti, kind in rows]
