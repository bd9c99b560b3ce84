"""Read-side questions about authorizations that other domains ask."""
from sqlalchemy import select

from backend.authorizations.models import AuthorizedReceipt
from backend.common.models import utcnow
from backend.extensions import db


def active_grant(unit_id: str, receipt_id: int, now=None) -> AuthorizedReceipt | None:
    """The unit's live authorization of this receipt, if any (not revoked, not expired)."""
    now = now or utcnow()
    return db.session.scalar(
        select(AuthorizedReceipt)
        .where(
            AuthorizedReceipt.unit_id == unit_id,
            AuthorizedReceipt.receipt_id == receipt_id,
            AuthorizedReceipt.revoked_at.is_(None),
            AuthorizedReceipt.expires_at > now,
        )
        .order_by(AuthorizedReceipt.id.desc())
        .limit(1)
    )


def authorized_receipt_ids(receipt_ids, now=None) -> set[int]:
    """Which of these receipts have a live authorization to any unit (for display status)."""
    if not receipt_ids:
        return set()
    now = now or utcnow()
    return set(db.session.scalars(
        select(AuthorizedReceipt.receipt_id).where(
            AuthorizedReceipt.receipt_id.in_(list(receipt_ids)),
            AuthorizedReceipt.revoked_at.is_(None),
            AuthorizedReceipt.expires_at > now,
        )
    ))


def interested_units(receipt, *extra_unit_ids) -> set[str]:
    """Units that hear about a receipt: its lock holder and units it is authorized to."""
    now = utcnow()
    with db.session.no_autoflush:  # nothing pending changes the answer; let the inserts batch at commit
        units = set(db.session.scalars(
            select(AuthorizedReceipt.unit_id).where(
                AuthorizedReceipt.receipt_id == receipt.id, AuthorizedReceipt.revoked_at.is_(None), AuthorizedReceipt.expires_at > now)
        ))
    if receipt.lock_unit_id:
        units.add(receipt.lock_unit_id)
    units.update(u for u in extra_unit_ids if u)
    return units
