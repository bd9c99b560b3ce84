"""Proof of possession (接口查验: check code + total amount), with its guessing limits.

A wrong guess costs its source first — the unit client when one is signed in, else the
source address: PROOF_FAILURES_PER_CLIENT / PROOF_FAILURES_PER_ADDRESS over all receipts, and
PROOF_FAILURES_PER_SOURCE_AND_RECEIPT on any one receipt. A receipt guessed wrong by
PROOF_SOURCES_PER_RECEIPT distinct sources is closed to anonymous proof for
PROOF_LOCKOUT_SECONDS; unit clients (identified, and still limited per client and receipt)
and the receipt's own payer, signed in, keep proving possession. The fiscal operator sees
lockouts in `GET /api/v1/admin/proof-lockouts`. Numbers: docs/decisions/failed-attempt-limits.md.
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
PER_SOURCE_AND_RECEIPT = "PROOF_FAILURES_PER_SOURCE_AND_RECEIPT"
SOURCES_PER_RECEIPT = "PROOF_SOURCES_PER_RECEIPT"


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


def _source(client_id: str | None) -> str:
    return f"client:{client_id}" if client_id else f"address:{attempts.client_address()}"


def ensure_caller_allowed(client_id: str | None = None) -> None:
    """429 when the caller's source — its unit client, else its address — used up its failures."""
    if client_id:
        attempts.ensure_allowed(SCOPE, "PROOF_FAILURES_PER_CLIENT", "client", client_id)
    else:
        attempts.ensure_allowed(SCOPE, "PROOF_FAILURES_PER_ADDRESS", "address", attempts.client_address())


def _record_caller_failure(client_id: str | None) -> None:
    if client_id:
        attempts.record_failure(SCOPE, "PROOF_FAILURES_PER_CLIENT", "client", client_id)
    else:
        attempts.record_failure(SCOPE, "PROOF_FAILURES_PER_ADDRESS", "address", attempts.client_address())


def _ensure_receipt_open(receipt: Receipt) -> None:
    until = db.session.scalar(select(ProofLockout.locked_until).where(ProofLockout.receipt_id == receipt.id))
    now = utcnow()
    if until is not None and as_utc(until) > now:
        raise ProofLockedOut(f"Receipt {receipt.key} is closed to anonymous proof of possession for now.",
                             retry_after=max(1, math.ceil((as_utc(until) - now).total_seconds())))


def _owned_by(receipt: Receipt | None, citizen) -> bool:
    return receipt is not None and citizen is not None and bool(citizen.id_hash) and \
        hmac.compare_digest(receipt.payer_hash.encode(), citizen.id_hash.encode())


def prove(receipt: Receipt | None, check_code, total_amount, *, client_id: str | None = None, issue_date=None,
          citizen=None) -> bool:
    """True when the elements match; counts a failure against the caller's source otherwise
    (429 once over a limit). `client_id`: the unit client asking; `citizen`: the signed-in
    citizen asking — the receipt's payer is never limited (the wallet shows them the code)."""
    if _owned_by(receipt, citizen):
        return elements_match(receipt, check_code, total_amount, issue_date)
    ensure_caller_allowed(client_id)
    if receipt is None:
        _record_caller_failure(client_id)
        return False
    if not client_id:
        _ensure_receipt_open(receipt)
    source = _source(client_id)
    on_receipt = (source, "receipt", str(receipt.id))
    # Taken before the answer is known, so a burst of concurrent guesses cannot overshoot.
    if not attempts.reserve(SCOPE, PER_SOURCE_AND_RECEIPT, *on_receipt):
        attempts.refuse(SCOPE, PER_SOURCE_AND_RECEIPT, *on_receipt,
                        detail="Too many failed attempts on this receipt from this caller; try again later.")
    if elements_match(receipt, check_code, total_amount, issue_date):
        attempts.release(SCOPE, PER_SOURCE_AND_RECEIPT, *on_receipt)
        return True
    _record_caller_failure(client_id)
    _count_source(receipt, source)
    return False


def _count_source(receipt: Receipt, source: str) -> None:
    """Counts `source` once per window among the receipt's failing sources; the
    PROOF_SOURCES_PER_RECEIPT-th one (and each further one) closes the receipt."""
    if attempts.increment(SCOPE, SOURCES_PER_RECEIPT, "seen", str(receipt.id), source) != 1:
        return
    if attempts.increment(SCOPE, SOURCES_PER_RECEIPT, "receipt", str(receipt.id)) >= attempts.limit_of(SOURCES_PER_RECEIPT):
        _close(receipt)


def _close(receipt: Receipt) -> None:
    """Records the lockout in a transaction of its own: the refused request rolls back."""
    until = utcnow() + timedelta(seconds=current_app.config["PROOF_LOCKOUT_SECONDS"])
    with db.engine.begin() as conn:
        if not conn.execute(update(ProofLockout).where(ProofLockout.receipt_id == receipt.id).values(locked_until=until)).rowcount:
            conn.execute(insert(ProofLockout).values(receipt_id=receipt.id, locked_until=until, created_at=utcnow()))
    log.warning("receipt closed to anonymous proof of possession: wrong check codes from many sources",
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
    attempts.reset_failures(SCOPE, SOURCES_PER_RECEIPT, "receipt", str(receipt_id))
    db.session.commit()
    log.info("proof-of-possession lockout lifted", extra={"receipt_key": key})
