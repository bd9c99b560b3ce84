"""A receipt as the issuing node announces it, and its synced copy on other nodes.

The snapshot is the wire form (with the payer's ID: it goes only to nodes where that payer
has an account, through the hub, which stores none of it) and the status facets, ledger and
timeline, with `version`, the number of the receipt's timeline entries (append-only, so it
only grows, one per change): a copy only ever moves forward, and a version far ahead of
the copy's is refused (FEDERATION_MAX_VERSION_STEP).
"""
from sqlalchemy import select

from backend.common.crypto import federated_payer_hash
from backend.common.models import as_utc
from backend.common.money import format_fen
from backend.extensions import db
from backend.receipts.models import Receipt
from backend.receipts.presenters import timeline, wire_form


def payer_fhash(id_type: str, id_number: str) -> str:
    return federated_payer_hash(id_type, id_number)


def _ledger(receipt: Receipt) -> list[dict]:
    from backend.reimbursements.models import LedgerEntry
    from backend.units.models import Unit

    rows = db.session.execute(select(LedgerEntry, Unit).join(Unit, Unit.id == LedgerEntry.unit_id)
                              .where(LedgerEntry.receipt_id == receipt.id).order_by(LedgerEntry.id)).all()
    return [{"unit": unit.public_view, "outcome": e.outcome, "amount": format_fen(e.amount_fen),
             "reimbursed_at": as_utc(e.reimbursed_at).isoformat(), "reference": e.reference, "reason": e.reason,
             "settlement": e.settlement}
            for e, unit in rows]


def build(receipt: Receipt) -> dict:
    from backend.receipts.presenters import is_locked
    from backend.units.models import Unit

    lock = None
    if is_locked(receipt):
        unit = db.session.get(Unit, receipt.lock_unit_id)
        lock = {"unit": unit.public_view if unit else {"id": receipt.lock_unit_id}, "unit_id": receipt.lock_unit_id,
                "locked_at": as_utc(receipt.locked_at).isoformat(), "expires_at": as_utc(receipt.lock_expires_at).isoformat()}
    entries = timeline(receipt)
    issuer = receipt.issuer
    return {
        "key": receipt.key, "version": len(entries), "last_event": entries[-1]["event"] if entries else None,
        "issuer": {"id": issuer.id, "name": issuer.name, "credit_code": issuer.credit_code, "province": issuer.province},
        "receipt": wire_form(receipt, reveal_payer_id=True),
        "status": {"lifecycle": receipt.lifecycle, "lifecycle_detail": receipt.lifecycle_detail, "lock": lock,
                   "reimbursed_amount": format_fen(receipt.reimbursed_fen)},
        "ledger": _ledger(receipt), "timeline": entries,
    }
