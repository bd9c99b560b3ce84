"""What a unit may see of receipts: those authorized to it, and those it locks or has locked."""
import base64
import binascii

from sqlalchemy import or_, select

from backend.authorizations.models import AuthorizedReceipt
from backend.authorizations.queries import active_grant, authorized_receipt_ids
from backend.common.errors import ValidationFailed
from backend.common.models import utcnow
from backend.extensions import db
from backend.receipts import presenters
from backend.receipts.models import Receipt
from backend.receipts.services import find_by_key
from backend.reimbursements import proof
from backend.reimbursements import services as reimbursements
from backend.reimbursements.models import LedgerEntry, Lock
from backend.units.models import Unit
from backend.verification import checks


def unit_names(unit_ids) -> dict:
    ids = {u for u in unit_ids if u}
    if not ids:
        return {}
    return {u.id: u.public_view for u in db.session.scalars(select(Unit).where(Unit.id.in_(ids)))}


def present(receipts, unit: Unit, *, detail=False) -> list[dict]:
    now = utcnow()
    authorized = authorized_receipt_ids([r.id for r in receipts], now)
    names = unit_names(r.lock_unit_id for r in receipts)
    out = []
    for r in receipts:
        kwargs = {"authorized": r.id in authorized, "lock_unit_view": lambda uid: names.get(uid, {"id": uid})}
        if detail:
            out.append(presenters.receipt_detail(r, ledger=reimbursements.ledger_view(r.id), **kwargs))
        else:
            out.append(presenters.receipt_summary(r, **kwargs))
    return out


def _granted(unit: Unit, now):
    return select(AuthorizedReceipt.receipt_id).where(
        AuthorizedReceipt.unit_id == unit.id, AuthorizedReceipt.revoked_at.is_(None), AuthorizedReceipt.expires_at > now)


def _visible_clause(unit: Unit, now):
    held = select(Lock.receipt_id).where(Lock.unit_id == unit.id)  # locked now or before: its own history
    return or_(Receipt.id.in_(_granted(unit, now)), Receipt.lock_unit_id == unit.id, Receipt.id.in_(held))


def _decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        value = int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        value = None
    if value is None or not 0 < value < 2**63:
        raise ValidationFailed("cursor is malformed; use next_cursor from the previous page.", code="invalid_cursor")
    return value


def list_receipts(unit: Unit, *, status="all", cursor=None, limit=20) -> dict:
    now = utcnow()
    query = select(Receipt).where(_visible_clause(unit, now))
    if status == "locked":
        query = query.where(Receipt.lock_unit_id == unit.id, Receipt.lock_expires_at > now)
    elif status == "authorized":  # authorized to this unit now and waiting: not locked
        query = query.where(Receipt.id.in_(_granted(unit, now)), Receipt.lock_unit_id.is_(None) | (Receipt.lock_expires_at <= now))
    elif status == "reimbursed":
        query = query.where(Receipt.id.in_(select(LedgerEntry.receipt_id).where(LedgerEntry.unit_id == unit.id)))
    after = _decode_cursor(cursor)
    if after is not None:
        query = query.where(Receipt.id < after)
    rows = db.session.scalars(query.order_by(Receipt.id.desc()).limit(limit + 1)).all()
    page = rows[:limit]
    reimbursements.log_access([r.id for r in page], unit, "list")
    db.session.commit()
    next_cursor = base64.urlsafe_b64encode(str(page[-1].id).encode()).rstrip(b"=").decode() if len(rows) > limit else None
    return {"items": present(page, unit), "next_cursor": next_cursor}


def get_receipt(unit: Unit, key: str) -> dict:
    receipt = find_by_key(key)
    if receipt is None or not (
        receipt.lock_unit_id == unit.id
        or active_grant(unit.id, receipt.id) is not None
        or db.session.scalar(select(Lock.id).where(Lock.receipt_id == receipt.id, Lock.unit_id == unit.id).limit(1))
    ):
        from flask import current_app

        current_app.logger.info("unit read refused", extra={"unit_id": unit.id, "receipt_key": key})
        raise reimbursements.ReceiptNotFound(f"No receipt {key} is available to this unit.")
    reimbursements.log_access([receipt.id], unit, "view")
    db.session.commit()
    return present([receipt], unit, detail=True)[0]


def batch_verify(unit: Unit, items: list[dict]) -> dict:
    """Verifies up to 100 receipts by their elements (interface mode); a result per item.

    A wrong element answers like an unknown receipt. Authentic ones go to the access log and
    count as the unit's checks of them (查验次数: `check_count`, `last_checked_at`).
    Receipts of other provinces are verified by their issuing nodes (one message each)."""
    from backend.federation import forward
    from backend.units.guards import require_active

    require_active(unit)
    foreign = [(index, item) for index, item in enumerate(items) if forward.is_foreign(f"{item['code']}-{item['number']}")]
    if foreign:
        remote = forward.verify(unit, foreign)
        local = [(index, item) for index, item in enumerate(items) if not forward.is_foreign(f"{item['code']}-{item['number']}")]
        answer = _verify_local(unit, [item for _, item in local])
        for (index, _), outcome in zip(local, answer["items"]):
            outcome["index"] = index
        answer["items"] = sorted(answer["items"] + remote, key=lambda outcome: outcome["index"])
        return answer
    return _verify_local(unit, items)


def _verify_local(unit: Unit, items: list[dict]) -> dict:
    pairs = {(i["code"], i["number"]) for i in items}
    found = {}
    if pairs:
        codes = {c for c, _ in pairs}
        numbers = {n for _, n in pairs}
        for r in db.session.scalars(select(Receipt).where(Receipt.code.in_(codes), Receipt.number.in_(numbers))):
            found[(r.code, r.number)] = r
    names = unit_names(r.lock_unit_id for r in found.values())
    results, seen = [], []
    now = utcnow()
    for index, item in enumerate(items):
        receipt = found.get((item["code"], item["number"]))
        key = f"{item['code']}-{item['number']}"
        if not proof.prove(receipt, item["check_code"], item["total_amount"], client_id=unit.id):
            results.append({"index": index, "key": key, "authentic": False})
            continue
        seen.append(receipt.id)
        status = presenters.status_fields(receipt, lock_unit_view=lambda uid: names.get(uid, {"id": uid}))
        results.append({
            "index": index, "key": key, "authentic": True, "lifecycle": status["lifecycle"],
            "display_status": status["display_status"], "reimbursement": status["reimbursement"],
            "reimbursed_amount": status["reimbursed_amount"], "remaining_amount": status["remaining_amount"],
            "locked": status["lock"] is not None, "locked_by_you": receipt.lock_unit_id == unit.id and status["lock"] is not None,
            "issuer": {"name": receipt.elements["issuer"]["name"], "credit_code": receipt.elements["issuer"]["credit_code"]},
            "issue_date": receipt.issue_date.isoformat(), "total_amount": receipt.elements["total_amount"],
        })
    reimbursements.log_access(seen, unit, "verify")
    db.session.commit()
    counted = checks.record_checks(seen, checks.UNIT, unit)
    for outcome, receipt_id in zip((r for r in results if r["authentic"]), seen):
        outcome.update(checks.answer_fields(counted.get(receipt_id, (None, None))))
    return {"items": results, "checked_at": now.isoformat()}
