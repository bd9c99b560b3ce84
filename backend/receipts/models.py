from datetime import date

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.models import BigIntPK, JSONType, TZDateTime, utcnow
from backend.extensions import db

LIFECYCLES = ("issued", "red_reversed", "paper_exchanged", "voided")


class Receipt(db.Model):
    """A fiscal e-receipt as accepted by this node.

    `elements` holds the wire form (DESIGN §2) without `signature` and without
    `payer.id_number`, which lives only encrypted in `payer_id_enc` and is found by
    `payer_hash`. Money is integer fen.
    """

    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint("code", "number"),
        # The wallet: one citizen's receipts, newest first, keyset-paginated.
        Index("ix_receipts_wallet", "payer_hash", "issue_date", "id"),
        Index("ix_receipts_issuer_date", "issuer_id", "issue_date"),
        # Invariant 6 (never reimbursed beyond the total), enforced by the database too.
        CheckConstraint("reimbursed_fen >= 0 AND reimbursed_fen <= total_fen", name="reimbursed_within_total"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(8))
    number: Mapped[str] = mapped_column(String(10))
    province: Mapped[str] = mapped_column(String(2))
    issuer_id: Mapped[str] = mapped_column(ForeignKey("issuers.id"))
    check_code: Mapped[str] = mapped_column(String(6))
    kind: Mapped[str] = mapped_column(String(16))
    issue_date: Mapped[date] = mapped_column(Date)
    issued_at = mapped_column(TZDateTime())
    total_fen: Mapped[int] = mapped_column(BigInteger)
    payer_id_type: Mapped[str] = mapped_column(String(32))
    payer_hash: Mapped[str] = mapped_column(String(64))
    payer_id_enc: Mapped[bytes] = mapped_column(LargeBinary)
    elements = mapped_column(JSONType)
    content_hash: Mapped[str] = mapped_column(String(64))
    issuer_signature = mapped_column(JSONType)
    platform_signature = mapped_column(JSONType)
    lifecycle: Mapped[str] = mapped_column(String(20), default="issued")
    lifecycle_detail = mapped_column(JSONType, nullable=True)
    # Lock (报销锁定): a lease held by one unit, fenced by its token (issue: units).
    # `lock_unit_id` set means locked. `lock_id` is this node's Lock row: on a synced copy it
    # is always NULL — the lock lives on the issuing node, and the copy holds only its
    # holder and times (a remote lock; see docs/decisions/federation-trust.md).
    lock_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    lock_unit_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    lock_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    locked_at = mapped_column(TZDateTime(), nullable=True)
    lock_expires_at = mapped_column(TZDateTime(), nullable=True)
    reimbursed_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at = mapped_column(TZDateTime(), default=utcnow)
    updated_at = mapped_column(TZDateTime(), default=utcnow, onupdate=utcnow)
    # Federation: the payer's hash shared by every node (HMAC under FEDERATION_PAYER_KEY).
    payer_fhash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    # A synced copy of another province's receipt: when it was last synced, and the issuing
    # node's ledger, timeline, lock holder and version (this node changes none of it).
    synced_at = mapped_column(TZDateTime(), nullable=True)
    sync_state = mapped_column(JSONType, nullable=True)

    issuer = relationship("Issuer")

    @property
    def key(self) -> str:
        return f"{self.code}-{self.number}"


class TimelineEntry(db.Model):
    """Append-only history of a receipt: who changed what, when and why."""

    __tablename__ = "receipt_timeline"
    __table_args__ = (Index("ix_receipt_timeline_receipt", "receipt_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"))
    event: Mapped[str] = mapped_column(String(40))
    at = mapped_column(TZDateTime(), default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(16))  # issuer | unit | citizen | operator | system
    actor_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    data = mapped_column(JSONType, nullable=True)


class InboundWebhook(db.Model):
    """A processed issuer delivery, kept so a replayed `webhook-id` is answered, not applied."""

    __tablename__ = "inbound_webhooks"
    __table_args__ = (UniqueConstraint("issuer_id", "webhook_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    issuer_id: Mapped[str] = mapped_column(ForeignKey("issuers.id"))
    webhook_id: Mapped[str] = mapped_column(String(128))
    body_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response = mapped_column(JSONType)
    created_at = mapped_column(TZDateTime(), default=utcnow, index=True)


class ReceiptDataFile(db.Model):
    """The receipt's national data file (数据文件, DESIGN §11). `original`: the issuer's file
    byte for byte as received — the legal original — with its SHA-256 (null when the
    receipt was pushed as JSON); `complete`: the file as the node gives it back, with the
    finance department's seal and signature (for a JSON-pushed receipt generated by the
    node on first request, `source` = `generated`)."""

    __tablename__ = "receipt_data_files"

    receipt_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("receipts.id"), primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(16))  # issuer | generated
    original = mapped_column(LargeBinary, nullable=True)
    original_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    complete = mapped_column(LargeBinary)
    created_at = mapped_column(TZDateTime(), default=utcnow)
