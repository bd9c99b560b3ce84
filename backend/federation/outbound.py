"""What a node sends on its own: announcements of its receipts' changes and the undoing of
a lock whose answer never arrived. Delivery side: it reads
models and never calls a domain's services; jobs take ids, are idempotent and re-raise.
"""
import logging

from flask import current_app

from backend.extensions import db
from backend.federation import messages, snapshot, transport
from backend.receipts.models import Receipt

log = logging.getLogger(__name__)


def announcement_token(receipt: Receipt) -> str:
    snap = snapshot.build(receipt)
    return messages.seal("receipt.announce", {"payer_fhash": receipt.payer_fhash, "snapshot": snap}, "hub")


def to_hub(token: str) -> dict:
    """The hub's answer body; raises when it is unreachable or refuses (the job retries)."""
    from backend.federation.exchange import read_answer

    status, body = read_answer(transport.post(current_app.config["HUB_URL"], token))
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


def cancel_lock(jti: str, key: str, unit_id: str, not_after: float):
    """Undo a lock whose answer never reached us (see inbound._cancel)."""
    import time

    from backend.federation.exchange import send
    from backend.units.models import Unit

    unit = db.session.get(Unit, unit_id)
    status, body = send(unit, "unit.cancel", key, {"jti": jti})
    if body.get("result") == "unknown" and time.time() < not_after:
        raise transport.IssuingNodeUnavailable("The issuing node has not seen the lock request yet; retrying.")
    log.info("remote lock cancelled", extra={"receipt_key": key, "result": body.get("result")})
