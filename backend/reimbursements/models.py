from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.models import BigIntPK, JSONType, TZDateTime, new_uuid, utcnow
from backend.extensions import db

LOCK_END_REASONS = ("unlocked", "reimbursed", "rejected", "expired", "unit_cancelled")


class Lock(db.Model):
    """One lease of a receipt by one unit (报销锁定). The receipt row mirrors the current one.

    The token is a fencing token: feedback or unlock must present the current lock's token.
    """

    __tablename__ = "locks"
    __table_args__ = (
        Index("ix_locks_receipt", "receipt_id", "id"),
        Index("ix_locks_open_expiry", "expires_at", postgresql_where="ended_at IS NULL"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    mode: Mapped[str] = mapped_column(String(20))  # digital_account | interface
    authorization_id: Mapped[str | None] = mapped_column(ForeignKey("authorizations.id"), nullable=True)
    locked_at = mapped_column(TZDateTime(), default=utcnow)
    expires_at = mapped_column(TZDateTime())
    ended_at = mapped_column(TZDateTime(), nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)


class LedgerEntry(db.Model):
    """Append-only reimbursement ledger (报销反馈). One entry per lock at most."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("lock_id"),
        CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
        Index("ix_ledger_entries_receipt", "receipt_id", "id"),
        Index("ix_ledger_entries_unit", "unit_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    lock_id: Mapped[str] = mapped_column(ForeignKey("locks.id"))
    authorization_id: Mapped[str | None] = mapped_column(ForeignKey("authorizations.id"), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))  # reimbursed | rejected
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    reimbursed_at = mapped_column(TZDateTime())
    reference: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The social-insurance centre's settlement split (fund_paid, account_paid, …), decimal strings.
    settlement = mapped_column(JSONType, nullable=True)
    created_at = mapped_column(TZDateTime(), default=utcnow)


class ReceiptAccess(db.Model):
    """Every read of a receipt by a unit or operator; its citizen can see this log (DESIGN §7)."""

    __tablename__ = "receipt_access_log"
    __table_args__ = (Index("ix_receipt_access_receipt", "receipt_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"))
    accessor_type: Mapped[str] = mapped_column(String(16))  # unit | operator
    accessor_id: Mapped[str] = mapped_column(String(36))
    accessor_name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))  # view | list | verify | lock | unlock | feedback
    at = mapped_column(TZDateTime(), default=utcnow)


class IdempotencyRecord(db.Model):
    """Idempotency-Key bookkeeping for unit POSTs (Stripe semantics, IETF draft)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("client_id", "key"), Index("ix_idempotency_keys_created", "created_at"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    client_id: Mapped[str] = mapped_column(String(36))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="in_progress")  # in_progress | done
    response_status: Mapped[int | None] = mapped_column(nullable=True)
    response_body = mapped_column(JSONType, nullable=True)
    response_headers = mapped_column(JSONType, nullable=True)
    created_at = mapped_column(TZDateTime(), default=utcnow)
    locked_at = mapped_column(TZDateTime(), default=utcnow)


class ProofLockout(db.Model):
    """A receipt closed to proof of possession (check code + amount) after too many wrong
    guesses, until `locked_until`; operators list and lift them. No foreign key on purpose:
    it is written beside a transaction that holds the receipt's row lock, and a key check
    would wait for that lock."""

    __tablename__ = "proof_lockouts"

    receipt_id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=False)
    locked_until = mapped_column(TZDateTime())
    created_at = mapped_column(TZDateTime(), default=utcnow)


class Booking(db.Model):
    """A unit's accounting entry (入账) for one of its reimbursements (防止重复入账报销): at most
    one per ledger entry (unique), and all of a receipt's together never beyond its total
    (checked under the receipt's row lock). `ledger_entry_id` is null for a booking made while
    holding the lock, before feedback: at most one per unit and receipt."""

    __tablename__ = "bookings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"), index=True)
    ledger_entry_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("ledger_entries.id"), unique=True, nullable=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    voucher_no: Mapped[str] = mapped_column(String(64))
    booked_on = mapped_column(Date())
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    created_at = mapped_column(TZDateTime(), default=utcnow)
