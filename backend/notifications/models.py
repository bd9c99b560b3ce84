from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.models import BigIntPK, JSONType, TZDateTime, new_uuid, utcnow
from backend.extensions import db


class Notification(db.Model):
    """The citizen's inbox. Keyed by the payer hash, so a citizen who opens an account
    later still finds the history of receipts issued to them."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("event_id", "payer_hash"),
        Index("ix_notifications_inbox", "payer_hash", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    payer_hash: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(36))
    type: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    receipt_key: Mapped[str | None] = mapped_column(String(19), nullable=True)
    data = mapped_column(JSONType, nullable=True)
    created_at = mapped_column(TZDateTime(), default=utcnow)
    read_at = mapped_column(TZDateTime(), nullable=True)


class UnitWebhookDelivery(db.Model):
    """One event to one unit's endpoint, with its retry state (the database is the truth;
    jobs and the sweeper only act on it)."""

    __tablename__ = "unit_webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "unit_id"),
        Index("ix_unit_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_unit_webhook_deliveries_unit", "unit_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    event_id: Mapped[str] = mapped_column(ForeignKey("outbox_events.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | dead | cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at = mapped_column(TZDateTime(), nullable=True)
    last_attempt_at = mapped_column(TZDateTime(), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at = mapped_column(TZDateTime(), nullable=True)
    created_at = mapped_column(TZDateTime(), default=utcnow)
    # Per-attempt history: [{at, status_code, error, duration_ms}]
    log = mapped_column(JSONType, nullable=True)


