"""Jobs that act on locks: importable, taking ids, idempotent, re-raising on failure."""
from sqlalchemy import select

from backend.common.models import as_utc
from backend.events.dispatch import after_commit
from backend.extensions import db


def expire_lock(lock_id: str):
    """Ends a lease whose time has come (scheduled at lock time and at each renewal,
    withdrawn when the lock ends earlier; the sweeper catches misses)."""
    from backend.receipts.models import Receipt
    from backend.reimbursements.models import Lock
    from backend.reimbursements.services import expire_if_due

    lock = db.session.get(Lock, lock_id)
    if lock is None or lock.ended_at is not None:
        return
    receipt = db.session.scalar(select(Receipt).where(Receipt.id == lock.receipt_id).with_for_update(of=Receipt)
                                 .execution_options(populate_existing=True))
    if receipt.lock_id != lock_id:
        db.session.rollback()
        return
    if not expire_if_due(receipt):
        # Renewed since it was scheduled: look again at the new expiry.
        after_commit(expire_lock, lock_id, at=as_utc(receipt.lock_expires_at), job_id=f"expire-{lock_id}-{int(as_utc(receipt.lock_expires_at).timestamp())}")
    db.session.commit()


def due_expiries(now, batch: int = 500) -> list[tuple]:
    """Expired locks whose scheduled job was lost, for the sweeper."""
    from backend.reimbursements.models import Lock

    locks = db.session.scalars(
        select(Lock.id).where(Lock.ended_at.is_(None), Lock.expires_at <= now).order_by(Lock.expires_at).limit(batch)).all()
    return [("locks", expire_lock, lock_id, "default", f"expire-{lock_id}-sweep") for lock_id in locks]
