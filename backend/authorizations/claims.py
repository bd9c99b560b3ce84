"""The citizen's claims (我的报销): per unit and receipt, 已授权 → 报销中 → 已报销 / 被拒,
derived from authorizations, locks and the ledger in a fixed number of queries."""
from sqlalchemy import select

from backend.authorizations.models import Authorization, AuthorizedReceipt
from backend.common.errors import NotFound
from backend.common.models import as_utc, utcnow
from backend.common.money import format_fen
from backend.extensions import db
from backend.receipts.models import Receipt
from backend.receipts.services import find_by_key
from backend.reimbursements.models import LedgerEntry, Lock, ReceiptAccess
from backend.units.models import Unit

LABELS = {"authorized": "已授权", "in_progress": "报销中", "reimbursed": "已报销", "rejected": "被拒",
          "revoked": "已撤销", "expired": "已过期", "unlocked": "已解锁"}


def _iso(value):
    return as_utc(value).isoformat() if value else None


def list_claims(citizen) -> dict:
    now = utcnow()
    receipts = {r.id: r for r in db.session.scalars(select(Receipt).where(Receipt.payer_hash == citizen.id_hash))}
    ids = list(receipts)
    if not ids:
        return {"items": []}
    grants = db.session.execute(select(AuthorizedReceipt, Authorization).join(Authorization)
                                .where(AuthorizedReceipt.receipt_id.in_(ids), Authorization.citizen_id == citizen.id)).all()
    locks = db.session.scalars(select(Lock).where(Lock.receipt_id.in_(ids)).order_by(Lock.locked_at)).all()
    ledger = db.session.scalars(select(LedgerEntry).where(LedgerEntry.receipt_id.in_(ids)).order_by(LedgerEntry.id)).all()
    pairs: dict[tuple, dict] = {}

    def pair(unit_id, receipt_id):
        return pairs.setdefault((unit_id, receipt_id), {"grant": None, "lock": None, "entries": []})

    for grant, auth in grants:
        slot = pair(grant.unit_id, grant.receipt_id)
        if slot["grant"] is None or grant.id > slot["grant"][0].id:
            slot["grant"] = (grant, auth)
    for lock in locks:
        pair(lock.unit_id, lock.receipt_id)["lock"] = lock  # the latest, by locked_at
    for entry in ledger:
        pair(entry.unit_id, entry.receipt_id)["entries"].append(entry)
    units = {u.id: u for u in db.session.scalars(select(Unit).where(Unit.id.in_({u for u, _ in pairs})))}

    items = []
    for (unit_id, receipt_id), slot in pairs.items():
        receipt, grant, lock, entries = receipts[receipt_id], slot["grant"], slot["lock"], slot["entries"]
        reimbursed = [e for e in entries if e.outcome == "reimbursed"]
        last = entries[-1] if entries else None
        lock_open = lock is not None and lock.ended_at is None and as_utc(lock.expires_at) > now
        if lock_open:
            status = "in_progress"
        elif last is not None and (lock is None or last.lock_id == lock.id):
            status = "reimbursed" if last.outcome == "reimbursed" else "rejected"
        elif grant is not None:
            g, auth = grant
            if g.revoked_at is not None or auth.revoked_at is not None:
                status = "revoked"
            elif as_utc(g.expires_at) <= now:
                status = "expired"
            else:
                status = "authorized"
        else:
            status = "unlocked"
        items.append({
            "unit": units[unit_id].public_view, "receipt_key": receipt.key, "receipt_title": receipt.elements.get("title"),
            "status": LABELS[status], "status_code": status,
            "amount": format_fen(sum(e.amount_fen for e in reimbursed)) if reimbursed else None,
            "reason": last.reason if last is not None and last.outcome == "rejected" else None,
            "reference": last.reference if last is not None else (grant[1].reference if grant else None),
            "authorized_at": _iso(grant[1].created_at) if grant else None,
            "locked_at": _iso(lock.locked_at) if lock else None,
            "decided_at": _iso(last.reimbursed_at) if last else None,
        })
    items.sort(key=lambda i: i["decided_at"] or i["locked_at"] or i["authorized_at"] or "", reverse=True)
    return {"items": items}


def access_log(citizen, key: str) -> dict:
    receipt = find_by_key(key, payer_hash=citizen.id_hash)
    if receipt is None:
        raise NotFound(f"No receipt {key} in this wallet.", code="receipt_not_found", title="未找到该票据")
    rows = db.session.scalars(select(ReceiptAccess).where(ReceiptAccess.receipt_id == receipt.id).order_by(ReceiptAccess.id.desc()).limit(200))
    return {"items": [{"accessor": {"type": a.accessor_type, "id": a.accessor_id, "name": a.accessor_name}, "action": a.action,
                       "at": _iso(a.at)} for a in rows]}
