"""The citizen's wallet: every receipt whose payer is them, newest first (DESIGN §5).

The filter on `payer_hash` uses the (payer_hash, issue_date, id) index, so a wallet page
costs the same with ten million receipts stored as with ten; the page is presented with a
fixed number of extra queries (authorizations, lock holders), never one per receipt.
"""
from datetime import date

from sqlalchemy import Text, and_, cast, exists, or_, select

from backend.authorizations.models import AuthorizedReceipt
from backend.authorizations.queries import authorized_receipt_ids
from backend.citizens.models import Citizen
from backend.common.models import utcnow
from backend.common.pagination import decode_cursor, encode_cursor
from backend.common.errors import NotFound, ValidationFailed
from backend.extensions import db
from backend.issuers.models import Issuer
from backend.receipts import presenters
from backend.receipts.models import Receipt
from backend.receipts.services import find_by_key
from backend.reimbursements.services import ledger_view
from backend.units.views import unit_names
from backend.verification import checks

STATUSES = ("issued", "authorized", "locked", "partial", "reimbursed", "red_reversed", "paper_exchanged", "voided")


class ReceiptNotFound(NotFound):
    code = "receipt_not_found"
    title = "未找到该票据"


def _status_clause(status: str, now):
    not_locked = or_(Receipt.lock_unit_id.is_(None), Receipt.lock_expires_at <= now)
    granted = exists().where(AuthorizedReceipt.receipt_id == Receipt.id, AuthorizedReceipt.revoked_at.is_(None),
                             AuthorizedReceipt.expires_at > now)
    issued = Receipt.lifecycle == "issued"
    return {
        "red_reversed": Receipt.lifecycle == "red_reversed",
        "paper_exchanged": Receipt.lifecycle == "paper_exchanged",
        "voided": Receipt.lifecycle == "voided",
        "locked": and_(issued, Receipt.lock_unit_id.is_not(None), Receipt.lock_expires_at > now),
        "reimbursed": and_(issued, not_locked, Receipt.reimbursed_fen >= Receipt.total_fen),
        "partial": and_(issued, not_locked, Receipt.reimbursed_fen > 0, Receipt.reimbursed_fen < Receipt.total_fen),
        "authorized": and_(issued, not_locked, Receipt.reimbursed_fen == 0, granted),
        "issued": and_(issued, not_locked, Receipt.reimbursed_fen == 0, ~granted),
    }[status]


def present(receipts, *, detail=False) -> list[dict]:
    authorized = authorized_receipt_ids([r.id for r in receipts])
    names = unit_names(r.lock_unit_id for r in receipts)

    def view(uid):
        return names.get(uid, {"id": uid})

    if detail:  # only the payer sees how often, when and by which units the receipt was checked
        return [{**presenters.receipt_detail(r, reveal_payer_id=True, ledger=ledger_view(r.id), authorized=r.id in authorized,
                                             lock_unit_view=view), "checks": checks.summary(r.id)} for r in receipts]
    return [presenters.receipt_summary(r, reveal_payer_id=True, authorized=r.id in authorized, lock_unit_view=view)
            for r in receipts]


def list_receipts(citizen: Citizen, *, status=None, province=None, issuer=None, date_from=None, date_to=None,
                  q=None, cursor=None, limit=20) -> dict:
    now = utcnow()
    query = select(Receipt).where(Receipt.payer_hash == citizen.id_hash)
    if status:
        query = query.where(_status_clause(status, now))
    if province:
        query = query.where(Receipt.province == province)
    if issuer:
        query = query.where(Receipt.issuer_id.in_(select(Issuer.id).where(or_(Issuer.id == issuer, Issuer.credit_code == issuer))))
    if date_from:
        query = query.where(Receipt.issue_date >= date_from)
    if date_to:
        query = query.where(Receipt.issue_date <= date_to)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(cast(Receipt.elements, Text).ilike(pattern, escape="\\"))
    after = decode_cursor(cursor, 2)
    if after is not None:
        try:
            last_date, last_id = date.fromisoformat(after[0]), int(after[1])
        except (TypeError, ValueError):
            last_id = None
        if last_id is None or not 0 < last_id < 2**63:
            raise ValidationFailed("cursor is malformed; pass next_cursor from the previous page.", code="invalid_cursor")
        query = query.where(or_(Receipt.issue_date < last_date, and_(Receipt.issue_date == last_date, Receipt.id < last_id)))
    rows = db.session.scalars(query.order_by(Receipt.issue_date.desc(), Receipt.id.desc()).limit(limit + 1)).all()
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1].issue_date.isoformat(), page[-1].id) if len(rows) > limit else None
    return {"items": present(page), "next_cursor": next_cursor}


def get_receipt(citizen: Citizen, key: str) -> dict:
    receipt = find_by_key(key, payer_hash=citizen.id_hash)
    if receipt is None:  # someone else's receipt answers exactly like an unknown one
        raise ReceiptNotFound(f"No receipt {key} in this wallet.")
    return present([receipt], detail=True)[0]
