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
    if pending.kind == "unit_cancelled":
        return _release_for_cancelled_unit(pending, unit)
    _, body = send(unit, "unit.cancel", pending.receipt_key, {"jti": jti})
    outcome = (body.get("result") or {}).get("result") or (body.get("problem") or {}).get("code") or "unknown"
    if outcome == "unknown" and utcnow() < as_utc(pending.not_after):
        raise transport.IssuingNodeUnavailable("The issuing node has not seen the lock request yet; retrying.")
    pending.done_at, pending.result = utcnow(), outcome
    db.session.commit()
    log.info("remote lock cancellation settled", extra={"receipt_key": pending.receipt_key, "result": outcome})


def _release_for_cancelled_unit(pending, unit):
    """The issuing node releases the cancelled unit's lock; its answer's snapshot updates the
    synced copy here. Re-raises (the job retries) until the issuing node has answered."""
    from backend.common.models import utcnow
    from backend.federation.exchange import send
    from backend.federation.inbound import apply_snapshot

    status, body = send(unit, "unit.release", pending.receipt_key, {})
    if status >= 500:
        raise transport.IssuingNodeUnavailable(f"The issuing node answered {status}; retrying.")
    result = body.get("result") or {}
    snap = result.get("snapshot")
    if status < 300 and isinstance(snap, dict) and snap.get("key") == pending.receipt_key:
        apply_snapshot(snap, pending.receipt_key[:2])
    pending = db.session.get(PendingCancellation, pending.jti)
    outcome = ("released" if result.get("released") else "nothing_to_release") if status < 300 else \
        (body.get("problem") or {}).get("code") or str(status)
    pending.done_at, pending.result = utcnow(), outcome
    db.session.commit()
    log.info("cancelled unit's remote lock settled", extra={"receipt_key": pending.receipt_key, "result": outcome})


def due_cancellations(now, batch: int = 500) -> list[tuple]:
    rows = db.session.scalars(select(PendingCancellation.jti).where(PendingCancellation.done_at.is_(None))
                              .order_by(PendingCancellation.created_at).limit(batch)).all()
    return [("cancellations", cancel_lock, jti, "default", f"fed-cancel-{jti}-sweep") for jti in rows]
