"""The citizen's inbox."""
from sqlalchemy import func, select, update

from backend.common.errors import ValidationFailed
from backend.common.models import utcnow
from backend.extensions import db
from backend.notifications.channels import notification_payload
from backend.notifications.models import Notification


def inbox(payer_hash: str, *, before: int | None = None, limit: int = 20, unread_only=False) -> dict:
    query = select(Notification).where(Notification.payer_hash == payer_hash)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if before is not None:
        query = query.where(Notification.id < before)
    rows = db.session.scalars(query.order_by(Notification.id.desc()).limit(limit + 1)).all()
    page = rows[:limit]
    return {
        "items": [notification_payload(n) for n in page],
        "next_cursor": str(page[-1].id) if len(rows) > limit else None,
        "unread_count": unread_count(payer_hash),
    }


def unread_count(payer_hash: str) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.payer_hash == payer_hash, Notification.read_at.is_(None)))


def mark_read(payer_hash: str, *, event_ids=None, all_=False) -> dict:
    if not all_ and not event_ids:
        raise ValidationFailed("Name the notifications (ids) or send all: true.", code="nothing_to_mark")
    query = update(Notification).where(Notification.payer_hash == payer_hash, Notification.read_at.is_(None))
    if not all_:
        query = query.where(Notification.event_id.in_(list(event_ids)))
    marked = db.session.execute(query.values(read_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return {"marked": marked, "unread_count": unread_count(payer_hash)}
