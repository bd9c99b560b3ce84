"""Figures a fiscal operator watches (统计): receipts, reimbursement, units, background work."""
from sqlalchemy import func, select

from backend.common.models import utcnow
from backend.common.money import format_fen
from backend.extensions import db
from backend.issuers.models import Issuer
from backend.receipts.models import Receipt
from backend.reimbursements.models import LedgerEntry
from backend.units.models import Unit


def overview() -> dict:
    now = utcnow()
    lifecycles = dict(db.session.execute(select(Receipt.lifecycle, func.count()).group_by(Receipt.lifecycle)).all())
    total_fen, reimbursed_fen = db.session.execute(
        select(func.coalesce(func.sum(Receipt.total_fen), 0), func.coalesce(func.sum(Receipt.reimbursed_fen), 0))).one()
    locked = db.session.scalar(select(func.count()).select_from(Receipt).where(Receipt.lock_unit_id.is_not(None), Receipt.lock_expires_at > now))
    outcomes = dict(db.session.execute(select(LedgerEntry.outcome, func.count()).group_by(LedgerEntry.outcome)).all())
    units = dict(db.session.execute(select(Unit.status, func.count()).group_by(Unit.status)).all())
    issuers = dict(db.session.execute(select(Issuer.status, func.count()).group_by(Issuer.status)).all())
    return {
        "receipts": {"total": sum(lifecycles.values()), "by_lifecycle": lifecycles, "locked_now": locked,
                     "total_amount": format_fen(total_fen), "reimbursed_amount": format_fen(reimbursed_fen)},
        "feedback": {"reimbursed": outcomes.get("reimbursed", 0), "rejected": outcomes.get("rejected", 0)},
        "units": units, "issuers": issuers, "as_of": now.isoformat(),
    }
