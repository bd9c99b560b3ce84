from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.models import BigIntPK, TZDateTime, utcnow
from backend.extensions import db

# Where a check came from (查验渠道).
ELEMENTS = "elements"    # POST /api/v1/verify
LAYOUT = "layout"        # POST /api/v1/verify/layout
QR_PAGE = "qr_page"      # GET /v/{key}?c=
UNIT = "unit"            # POST /api/v1/unit/receipts/verify (interface mode)
DATA_FILE = "data_file"  # POST /api/v1/verify/data-file
CHANNELS = (ELEMENTS, LAYOUT, QR_PAGE, UNIT, DATA_FILE)


class ReceiptCheck(db.Model):
    """One check (查验) that identified a receipt: right elements, or a valid file of this node.

    Append-only; the 查验次数 of a receipt is the count of its rows. `unit_id` is set for a
    unit's check (interface mode), and is the only identity of a checker kept.
    """

    __tablename__ = "receipt_checks"
    __table_args__ = (
        # Counting a receipt's checks and finding its latest read only this index.
        Index("ix_receipt_checks_receipt", "receipt_id", "checked_at"),
        CheckConstraint("channel IN ('elements', 'layout', 'qr_page', 'unit', 'data_file')", name="channel_known"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"))
    channel: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), nullable=True)
    checked_at = mapped_column(TZDateTime(), default=utcnow)
