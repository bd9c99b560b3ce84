"""The transactional outbox table."""
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.models import JSONType, TZDateTime, new_uuid, utcnow
from backend.extensions import db


class OutboxEvent(db.Model):
    """Transactional outbox (DESIGN §4): written in the same transaction as the change it
    announces; delivered to every channel after commit by `deliver_event`."""

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_undispatched", "dispatched_at", "occurred_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    type: Mapped[str] = mapped_column(String(40))
    occurred_at = mapped_column(TZDateTime(), default=utcnow)
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("receipts.id"), nullable=True)
    receipt_key: Mapped[str | None] = mapped_column(String(19), nullable=True)
    payer_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    unit_ids = mapped_column(JSONType, nullable=True)
    data = mapped_column(JSONType, nullable=True)
    dispatched_at = mapped_column(TZDateTime(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Federation: set when the event must be announced to the hub; cleared once it was.
    hub_pending = mapped_column(Boolean, nullable=True)
