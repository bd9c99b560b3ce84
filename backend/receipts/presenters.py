"""Receipt answers (DESIGN §2): the wire form plus key, status facets, and, in detail,
timeline and ledger. `payer.id_number` is masked unless the viewer is the payer."""
import copy

from sqlalchemy import select

from backend.common.crypto import mask_id_number, pii
from backend.common.models import as_utc, utcnow
from backend.common.money import format_fen
from backend.extensions import db
from backend.receipts.models import Receipt, TimelineEntry
from backend.receipts.status import StatusFacts, display_status, lock_active, reimbursement_state

PAYER_CONTEXT = "receipt-payer-id"


def payer_id_number(receipt: Receipt) -> str:
    return pii().decrypt(receipt.payer_id_enc, PAYER_CONTEXT)


def is_locked(receipt: Receipt, now=None) -> bool:
    return lock_active(receipt.lock_unit_id, as_utc(receipt.lock_expires_at), now or utcnow())


def status_fields(receipt: Receipt, *, authorized=False, lock_unit_view=None) -> dict:
    """The status facets. `lock_unit_view`: a callable giving the public view of the lock holder.
    A synced copy of another province's receipt carries `synced_at` and the lock holder as
    its issuing node reported it."""
    locked = is_locked(receipt)
    lock = None
    synced = receipt.synced_at is not None
    if locked:
        lock = {
            "unit": (receipt.sync_state or {}).get("lock_unit") if synced else
                    lock_unit_view(receipt.lock_unit_id) if lock_unit_view else {"id": receipt.lock_unit_id},
            "locked_at": as_utc(receipt.locked_at).isoformat(),
            "expires_at": as_utc(receipt.lock_expires_at).isoformat(),
        }
    facts = StatusFacts(receipt.lifecycle, locked, receipt.total_fen, receipt.reimbursed_fen, authorized)
    return {
        "key": receipt.key,
        "province": receipt.province,
        "lifecycle": receipt.lifecycle,
        "lifecycle_detail": receipt.lifecycle_detail,
        "lock": lock,
        "reimbursement": reimbursement_state(receipt.total_fen, receipt.reimbursed_fen),
        "reimbursed_amount": format_fen(receipt.reimbursed_fen),
        "remaining_amount": format_fen(max(receipt.total_fen - receipt.reimbursed_fen, 0)),
        "display_status": display_status(facts),
        **({"synced_at": as_utc(receipt.synced_at).isoformat()} if synced else {}),
    }


def wire_form(receipt: Receipt, *, reveal_payer_id: bool) -> dict:
    data = copy.deepcopy(receipt.elements)
    payer_id = payer_id_number(receipt)
    data["payer"]["id_number"] = payer_id if reveal_payer_id else mask_id_number(payer_id)
    data["signature"] = receipt.issuer_signature
    data["supervision_signature"] = receipt.platform_signature
    return data


def receipt_summary(receipt: Receipt, *, reveal_payer_id=False, **status_kwargs) -> dict:
    return {**wire_form(receipt, reveal_payer_id=reveal_payer_id), **status_fields(receipt, **status_kwargs)}


def timeline(receipt: Receipt) -> list[dict]:
    if receipt.synced_at is not None:
        return list((receipt.sync_state or {}).get("timeline") or [])
    entries = db.session.scalars(
        select(TimelineEntry).where(TimelineEntry.receipt_id == receipt.id).order_by(TimelineEntry.id)
    )
    return [
        {
            "event": e.event,
            "at": as_utc(e.at).isoformat(),
            "actor": {"type": e.actor_type, "id": e.actor_id, "name": e.actor_name},
            "reason": e.reason,
            "data": e.data,
        }
        for e in entries
    ]


def receipt_detail(receipt: Receipt, *, reveal_payer_id=False, ledger=None, **status_kwargs) -> dict:
    return {
        **receipt_summary(receipt, reveal_payer_id=reveal_payer_id, **status_kwargs),
        "timeline": timeline(receipt),
        "ledger": (receipt.sync_state or {}).get("ledger") or [] if receipt.synced_at is not None else ledger if ledger is not None else [],
    }
