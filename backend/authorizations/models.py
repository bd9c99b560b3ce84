from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.models import BigIntPK, TZDateTime, new_uuid, utcnow
from backend.extensions import db

class AuthorizationRequest(db.Model):
    """A unit's request for receipts, shown as a QR code (授信流转, DESIGN §3).

    The QR token is stored hashed for lookup and encrypted so the unit can fetch the
    image again during its 5-minute life; it dies at first decision or at expiry.
    """

    __tablename__ = "authorization_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(100))
    reference: Mapped[str | None] = mapped_column(String(100), nullable=True)
    amount_cap_fen: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at = mapped_column(TZDateTime(), default=utcnow)
    expires_at = mapped_column(TZDateTime())
    citizen_id: Mapped[str | None] = mapped_column(ForeignKey("citizens.id"), nullable=True, index=True)
    scanned_at = mapped_column(TZDateTime(), nullable=True)
    decided_at = mapped_column(TZDateTime(), nullable=True)
    authorization_id: Mapped[str | None] = mapped_column(String(36), nullable=True)

    unit = relationship("Unit")


class Authorization(db.Model):
    """A citizen's consent (授权) of named receipts to one unit for one purpose — or a unit
    passing on a receipt it paid itself (`grantor_unit_id`; no citizen, no QR request)."""

    __tablename__ = "authorizations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    request_id: Mapped[str | None] = mapped_column(ForeignKey("authorization_requests.id"), unique=True, nullable=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    citizen_id: Mapped[str | None] = mapped_column(ForeignKey("citizens.id"), index=True, nullable=True)
    grantor_unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), index=True, nullable=True)
    purpose: Mapped[str] = mapped_column(String(100))
    reference: Mapped[str | None] = mapped_column(String(100), nullable=True)
    amount_cap_fen: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at = mapped_column(TZDateTime(), default=utcnow)
    expires_at = mapped_column(TZDateTime())
    revoked_at = mapped_column(TZDateTime(), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(16), nullable=True)  # citizen | system

    unit = relationship("Unit", foreign_keys=[unit_id])
    receipts = relationship("AuthorizedReceipt", back_populates="authorization", order_by="AuthorizedReceipt.id")


class AuthorizedReceipt(db.Model):
    __tablename__ = "authorized_receipts"
    __table_args__ = (
        UniqueConstraint("authorization_id", "receipt_id"),
        Index("ix_authorized_receipts_unit_receipt", "unit_id", "receipt_id"),
        Index("ix_authorized_receipts_receipt", "receipt_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    authorization_id: Mapped[str] = mapped_column(ForeignKey("authorizations.id"))
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    expires_at = mapped_column(TZDateTime())
    revoked_at = mapped_column(TZDateTime(), nullable=True)

    authorization = relationship("Authorization", back_populates="receipts")
    receipt = relationship("Receipt")
