"""Proof of possession (接口查验: check code + total amount), with its guessing limits.

Every wrong guess counts against the calling client, its source address and the receipt.
A receipt guessed wrong PROOF_FAILURES_PER_RECEIPT times is closed to proof of possession
for PROOF_LOCKOUT_SECONDS, for everybody (the citizen's QR authorization still works), and
the fiscal operator sees it in `GET /api/v1/admin/proof-lockouts`.
"""
import hmac
import logging
import math
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, insert, select, update

from backend.common import attempts
from backend.common.errors import NotFound
from backend.common.models import as_utc, utcnow
from backend.common.money import InvalidAmount, parse_fen
from backend.extensions import db
from backend.receipts.models import Receipt
from backend.reimbursements.models import ProofLockout

log = logging.getLogger(__name__)
SCOPE = "proof"


class ProofLockedOut(attempts.TooManyAttempts):
    code = "proof_locked"
    title = "该票据查验错误次数过多，已暂停校验码查验"


def elements_match(receipt: Receipt, check_code: str | None, total_amount: str | None, issue_date=None) -> bool:
    if check_code is None or total_amount is None:
        return False
    try:
        total_ok = parse_fen(total_amount) == receipt.total_fen
    except InvalidAmount:
        return False
    code_ok = hmac.compare_digest(check_code.encode(), receipt.check_code.encode())
    return total_ok and code_ok and (issue_date is None or receipt.issue_date == issue_date)


def ensure_caller_allowed(client_id: str | None) -> None:
    attempts.ensure_allowed(SCOPE, "PROOF_FAILURES_PER_ADDRESS", "address", attempts.client_address())
    if client_id:
        attempts.ensure_allowed(SCOPE, "PROOF_FAILURES_PER_CLIENT", "client", client_id)


def _ensure_receipt_open(receipt: Receipt) -> None:
    until = db.session.scalar(select(ProofLockout.locked_until).where(ProofLockout.receipt_id == receipt.id))
    now = utcnow()
    if until is not None and as_utc(until) > now:
        raise ProofLockedOut(f"Receipt {receipt.key} is closed to proof of possession for now.",
                             retry_after=max(1, math.ceil((as_utc(until) - now).total_seconds())))


def prove(receipt: Receipt | None, check_code, total_amount, *, client_id: str | None = None, issue_date=None) -> bool:
    """True when the elements match; counts a failure otherwise (429 once over a limit)."""
    ensure_caller_allowed(client_id)
    if receipt is not None:
        _ensure_receipt_open(receipt)
        if elements_match(receipt, check_code, total_amount, issue_date):
            return True
    attempts.record_failure(SCOPE, "PROOF_FAILURES_PER_ADDRESS", "address", attempts.client_address())
    if client_id:
        attempts.record_failure(SCOPE, "PROOF_FAILURES_PER_CLIENT", "client", client_id)
    if receipt is not None and not attempts.record_failure(SCOPE, "PROOF_FAILURES_PER_RECEIPT", "receipt", str(receipt.id)):
        _close(receipt)
    return False


def _close(receipt: Receipt) -> None:
    """Records the lockout in a transaction of its own: the refused request rolls back."""
    until = utcnow() + timedelta(seconds=current_app.config["PROOF_LOCKOUT_SECONDS"])
    with db.engine.begin() as conn:
        if not conn.execute(update(ProofLockout).where(ProofLockout.receipt_id == receipt.id).values(locked_until=until)).rowcount:
            conn.execute(insert(ProofLockout).values(receipt_id=receipt.id, locked_until=until, created_at=utcnow()))
    log.warning("receipt closed to proof of possession after repeated wrong check codes",
                extra={"receipt_key": receipt.key, "locked_until": until.isoformat()})


def open_lockouts() -> dict:
    now = utcnow()
    rows = db.session.execute(select(Receipt.code, Receipt.number, ProofLockout.locked_until, ProofLockout.created_at)
                              .join(Receipt, Receipt.id == ProofLockout.receipt_id)
                              .where(ProofLockout.locked_until > now).order_by(ProofLockout.locked_until)).all()
    return {"items": [{"key": f"{code}-{number}", "locked_until": as_utc(until).isoformat(), "since": as_utc(since).isoformat()}
                      for code, number, until, since in rows]}


def lift(key: str) -> None:
    code, _, number = key.partition("-")
    receipt_id = db.session.scalar(select(Receipt.id).where(Receipt.code == code, Receipt.number == number))
    if receipt_id is None or not db.session.execute(delete(ProofLockout).where(ProofLockout.receipt_id == receipt_id)).rowcount:
        raise NotFound(f"Receipt {key} is not closed to proof of possession.", code="no_proof_lockout", title="该票据未被暂停查验")
    attempts.reset_failures(SCOPE, "PROOF_FAILURES_PER_RECEIPT", "receipt", str(receipt_id))
    db.session.commit()
    log.info("proof-of-possession lockout lifted", extra={"receipt_key": key})
