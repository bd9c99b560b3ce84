"""Lock, unlock, renew and reimbursement feedback (DESIGN §2 invariants 2–6).

Every state change of a receipt is a compare-and-set UPDATE whose WHERE clause restates
the invariant (not locked / holds this lock / stays within the total), on top of the
row lock taken with SELECT … FOR UPDATE on PostgreSQL. So the rules hold even where row
locks don't exist (SQLite), and the database's CHECK constraint is the last line.
Each public function is one transaction.
"""
import hmac
import secrets
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import bindparam, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from backend.authorizations.models import Authorization, AuthorizedReceipt
from backend.authorizations.queries import active_grant, interested_units
from backend.common.actors import SYSTEM, Actor
from backend.common.crypto import sha256_hex
from backend.common.errors import Conflict, NotFound, ValidationFailed
from backend.common.models import as_utc, new_uuid, utcnow
from backend.common.money import InvalidAmount, format_fen, parse_fen
from backend.extensions import db
from backend.events.dispatch import after_commit, cancel_after_commit
from backend.receipts.events import record_change
from backend.receipts.models import Receipt
from backend.receipts.services import find_by_key
from backend.federation import forward
from backend.reimbursements import proof
from backend.reimbursements.models import Booking, LedgerEntry, Lock, ReceiptAccess
from backend.units.models import Unit
from backend.units.guards import require_active
from backend.units.services import unit_actor


class ReceiptNotFound(NotFound):
    code = "receipt_not_found"
    title = "未找到该票据或无权访问"


class ReceiptLockedByOther(Conflict):
    code = "receipt_locked"
    title = "票据已被其他单位锁定"


class AlreadyLocked(Conflict):
    code = "already_locked"
    title = "票据已由本单位锁定"


class NotReimbursable(Conflict):
    code = "receipt_not_reimbursable"
    title = "票据当前状态不可报销"


class LockTokenInvalid(Conflict):
    code = "lock_token_invalid"
    title = "锁定凭证无效或已失效"


class AmountInvalid(ValidationFailed):
    code = "invalid_amount"
    title = "报销金额不正确"


class AmountExceedsRemaining(Conflict):
    code = "amount_exceeds_remaining"
    title = "报销金额超过票据剩余可报销金额"


def _token_hash(token: str) -> str:
    return sha256_hex(token or "")


def _load_for_update(key: str) -> Receipt:
    """The receipt by its key, row-locked; lean, since locking and feedback decide on the
    amounts, the lifecycle and the lock columns only."""
    receipt = find_by_key(key, for_update=True, lean=True)
    if receipt is None:
        raise ReceiptNotFound(f"No receipt {key} is available to this unit.")
    return receipt


def _clear_lock_values():
    return {"lock_id": None, "lock_unit_id": None, "lock_token_hash": None, "locked_at": None, "lock_expires_at": None}


# Built once: statements executed with separate parameters reuse their compiled form.
_INSERT_ACCESS = insert(ReceiptAccess.__table__)
_INSERT_LOCK = insert(Lock.__table__)
_INSERT_LEDGER = insert(LedgerEntry.__table__).returning(LedgerEntry.__table__.c.id)
_RECEIPTS, _LOCKS, _GRANTS = Receipt.__table__, Lock.__table__, AuthorizedReceipt.__table__
_END_LOCK = (update(_LOCKS).where(_LOCKS.c.id == bindparam("lock_id"), _LOCKS.c.ended_at.is_(None))
             .values(ended_at=bindparam("ended_at"), end_reason=bindparam("end_reason")))


def _take_lock_statement(with_grant: bool):
    """The compare-and-set that takes a lock: only a free, issued, not fully reimbursed
    receipt — and, in digital-account mode, only while the authorization still stands
    (a revocation may race the lock)."""
    conditions = [_RECEIPTS.c.id == bindparam("rid"), _RECEIPTS.c.lock_id.is_(None), _RECEIPTS.c.lifecycle == "issued",
                  _RECEIPTS.c.reimbursed_fen < _RECEIPTS.c.total_fen]
    if with_grant:
        conditions.append(exists().where(_GRANTS.c.id == bindparam("grant_id"), _GRANTS.c.revoked_at.is_(None),
                                         _GRANTS.c.expires_at > bindparam("now")))
    return update(_RECEIPTS).where(*conditions).values(
        {c: bindparam(c) for c in ("lock_id", "lock_unit_id", "lock_token_hash", "locked_at", "lock_expires_at", "updated_at")})


_TAKE_LOCK = {False: _take_lock_statement(False), True: _take_lock_statement(True)}
# Feedback's compare-and-set: this lock, unexpired, and never beyond the total.
_APPLY_FEEDBACK = (
    update(_RECEIPTS)
    .where(_RECEIPTS.c.id == bindparam("rid"), _RECEIPTS.c.lock_id == bindparam("held"), _RECEIPTS.c.lock_expires_at > bindparam("now"),
           _RECEIPTS.c.reimbursed_fen + bindparam("fen") <= _RECEIPTS.c.total_fen)
    .values(reimbursed_fen=_RECEIPTS.c.reimbursed_fen + bindparam("fen"), **_clear_lock_values(), updated_at=bindparam("now"))
)


def log_access(receipt_ids, unit: Unit, action: str):
    rows = [{"receipt_id": rid, "accessor_type": "unit", "accessor_id": unit.id, "accessor_name": unit.name,
             "action": action, "at": utcnow()} for rid in receipt_ids]
    if rows:
        db.session.execute(_INSERT_ACCESS, rows)


def _end_lock(lock: Lock, reason: str, now: datetime) -> bool:
    """Ends an open lock exactly once; False when someone else already ended it. A lock
    ended before its time withdraws its scheduled expiry, which would otherwise wait in
    Redis for the rest of the lease with nothing to do."""
    ended = db.session.execute(_END_LOCK, {"lock_id": lock.id, "ended_at": now, "end_reason": reason}).rowcount == 1
    if ended and reason != "expired":  # an expiry is (or races) that very job: leave it be
        _cancel_expiry(lock.id, as_utc(lock.expires_at))
    return ended


def _expiry_job_id(lock_id: str, expires_at: datetime) -> str:
    return f"expire-{lock_id}-{int(expires_at.timestamp())}"


def _schedule_expiry(lock_id: str, expires_at: datetime):
    from backend.reimbursements.jobs import expire_lock

    after_commit(expire_lock, lock_id, at=expires_at, job_id=_expiry_job_id(lock_id, expires_at))


def _cancel_expiry(lock_id: str, expires_at: datetime):
    cancel_after_commit(_expiry_job_id(lock_id, expires_at))


def expire_if_due(receipt: Receipt, now: datetime | None = None) -> bool:
    """Finishes a lease that has run out: unlock, timeline entry. Caller commits."""
    now = now or utcnow()
    if not receipt.lock_id or as_utc(receipt.lock_expires_at) > now:
        return False
    lock = db.session.get(Lock, receipt.lock_id)
    cleared = db.session.execute(
        update(Receipt).where(Receipt.id == receipt.id, Receipt.lock_id == receipt.lock_id).values(**_clear_lock_values())
        .execution_options(synchronize_session=False)
    ).rowcount
    if cleared and _end_lock(lock, "expired", now):
        unit = db.session.get(Unit, lock.unit_id)
        record_change(receipt, "receipt.lock_expired", SYSTEM, reason="锁定期限已到，自动解锁",
                      data={"unit": unit.public_view, "lock_id": lock.id, "expired_at": as_utc(lock.expires_at).isoformat()})
    db.session.refresh(receipt)
    return bool(cleared)


def _visible_to(unit: Unit, receipt: Receipt) -> bool:
    if receipt.lock_unit_id == unit.id or active_grant(unit.id, receipt.id) is not None:
        return True
    return db.session.scalar(select(Lock.id).where(Lock.receipt_id == receipt.id, Lock.unit_id == unit.id).limit(1)) is not None


def lock(unit: Unit, key: str, *, check_code: str | None = None, total_amount: str | None = None) -> dict:
    """Locks a receipt for this unit: digital-account mode (an active authorization) or
    interface mode (check_code + total_amount as proof of possession). A receipt issued in
    another province is decided by its issuing node (backend.federation.forward)."""
    if forward.is_foreign(key):
        return forward.lock(unit, key, check_code, total_amount)
    require_active(unit)
    now = utcnow()
    receipt = _load_for_update(key)
    if check_code is not None or total_amount is not None:
        mode, grant = "interface", None
        if not proof.prove(receipt, check_code, total_amount, client_id=unit.id):
            current_app.logger.info("lock refused: proof of possession failed", extra={"unit_id": unit.id, "receipt_key": key})
            raise ReceiptNotFound(f"No receipt {key} matches these elements.")
    else:
        mode, grant = "digital_account", active_grant(unit.id, receipt.id, now)
        if grant is None:
            current_app.logger.info("lock refused: no authorization", extra={"unit_id": unit.id, "receipt_key": key})
            raise ReceiptNotFound(f"No receipt {key} is authorized to this unit.")
    expire_if_due(receipt, now)
    if receipt.lock_id:
        if receipt.lock_unit_id == unit.id:
            raise AlreadyLocked(f"This unit already holds the lock on {key} until {as_utc(receipt.lock_expires_at).isoformat()}.")
        raise ReceiptLockedByOther(f"Receipt {key} is locked by another unit.")
    if receipt.lifecycle != "issued":
        raise NotReimbursable(f"Receipt {key} is {receipt.lifecycle}; it cannot be reimbursed.")
    if receipt.reimbursed_fen >= receipt.total_fen:
        raise NotReimbursable(f"Receipt {key} has been fully reimbursed.", code="fully_reimbursed", title="票据已全额报销")

    token = "lk_" + secrets.token_urlsafe(32)
    expires_at = now + timedelta(seconds=current_app.config["LOCK_TTL_SECONDS"])
    lock_id, token_hash = new_uuid(), _token_hash(token)
    db.session.execute(_INSERT_LOCK, dict(id=lock_id, receipt_id=receipt.id, unit_id=unit.id, token_hash=token_hash, mode=mode,
                                          authorization_id=grant.authorization_id if grant else None, locked_at=now,
                                          expires_at=expires_at))
    params = {"rid": receipt.id, "lock_id": lock_id, "lock_unit_id": unit.id, "lock_token_hash": token_hash,
              "locked_at": now, "lock_expires_at": expires_at, "updated_at": now}
    if grant is not None:
        params.update(grant_id=grant.id, now=now)
    taken = db.session.execute(_TAKE_LOCK[grant is not None], params).rowcount
    if taken != 1:
        db.session.rollback()
        raise ReceiptLockedByOther(f"Receipt {key} was locked, or its authorization revoked, a moment ago.")
    record_change(receipt, "receipt.locked", unit_actor(unit),
                  data={"unit": unit.public_view, "mode": mode, "expires_at": expires_at.isoformat()})
    log_access([receipt.id], unit, "lock")
    _schedule_expiry(lock_id, expires_at)
    db.session.commit()
    return {"key": key, "lock_token": token, "mode": mode, "locked_at": now, "expires_at": expires_at}


def _held_lock(unit: Unit, receipt: Receipt, lock_token: str, now: datetime) -> Lock:
    """The lock this token fences, if it is the receipt's current, unexpired lock of this unit."""
    if not isinstance(lock_token, str) or not lock_token:
        raise ValidationFailed("lock_token is required.", code="lock_token_required")
    digest = _token_hash(lock_token)
    current = (
        receipt.lock_id is not None
        and receipt.lock_unit_id == unit.id
        and hmac.compare_digest(receipt.lock_token_hash or "", digest)
        and as_utc(receipt.lock_expires_at) > now
    )
    if current:
        return db.session.get(Lock, receipt.lock_id)
    if not _visible_to(unit, receipt):
        raise ReceiptNotFound(f"No receipt {receipt.key} is available to this unit.")
    ended = db.session.scalar(select(Lock).where(Lock.receipt_id == receipt.id, Lock.unit_id == unit.id, Lock.token_hash == digest))
    if ended is not None and (ended.ended_at is not None or as_utc(ended.expires_at) <= now):
        raise LockTokenInvalid(f"This lock has ended ({ended.end_reason or 'expired'}); its token no longer works.",
                               code="lock_ended", extra={"end_reason": ended.end_reason or "expired"})
    raise LockTokenInvalid("This lock_token is not the receipt's current lock held by this unit.")


def unlock(unit: Unit, key: str, lock_token: str, reason: str | None = None) -> dict:
    if forward.is_foreign(key):
        return forward.unlock(unit, key, lock_token, reason)
    now = utcnow()
    receipt = _load_for_update(key)
    held = _held_lock(unit, receipt, lock_token, now)
    _release(receipt, held, "unlocked", unit_actor(unit), reason or "报销单位解除锁定", now)
    db.session.commit()
    return {"key": key, "unlocked_at": now}


def _release(receipt: Receipt, held: Lock, end_reason: str, actor: Actor, reason: str, now: datetime):
    cleared = db.session.execute(
        update(Receipt).where(Receipt.id == receipt.id, Receipt.lock_id == held.id)
        .values(**_clear_lock_values(), updated_at=now).execution_options(synchronize_session=False)
    ).rowcount
    if cleared != 1 or not _end_lock(held, end_reason, now):
        db.session.rollback()
        raise LockTokenInvalid("The lock ended a moment ago.", code="lock_ended")
    unit = db.session.get(Unit, held.unit_id)
    record_change(receipt, "receipt.unlocked", actor, reason=reason, data={"unit": unit.public_view, "lock_id": held.id, "end_reason": end_reason})


def renew(unit: Unit, key: str, lock_token: str) -> dict:
    if forward.is_foreign(key):
        return forward.renew(unit, key, lock_token)
    require_active(unit)
    now = utcnow()
    receipt = _load_for_update(key)
    held = _held_lock(unit, receipt, lock_token, now)
    expires_at = now + timedelta(seconds=current_app.config["LOCK_TTL_SECONDS"])
    renewed = db.session.execute(
        update(Receipt).where(Receipt.id == receipt.id, Receipt.lock_id == held.id, Receipt.lock_expires_at > now)
        .values(lock_expires_at=expires_at).execution_options(synchronize_session=False)
    ).rowcount
    if renewed != 1:
        db.session.rollback()
        raise LockTokenInvalid("The lock ended a moment ago.", code="lock_ended")
    _cancel_expiry(held.id, as_utc(held.expires_at))
    held.expires_at = expires_at
    log_access([receipt.id], unit, "renew")
    _schedule_expiry(held.id, expires_at)
    db.session.commit()
    return {"key": key, "lock_token": lock_token, "expires_at": expires_at}


def _parse_feedback_amount(outcome: str, amount) -> int:
    if outcome == "rejected":
        if amount in (None, "0.00"):
            return 0
        raise AmountInvalid("A rejection carries no amount (omit it or send \"0.00\").")
    if amount is None:
        raise AmountInvalid("A reimbursement needs its amount.")
    try:
        fen = parse_fen(amount)
    except InvalidAmount as exc:
        raise AmountInvalid(str(exc))
    if fen <= 0:
        raise AmountInvalid("The reimbursed amount must be greater than 0.")
    return fen


def _settlement(outcome: str, fen: int, settlement: dict | None) -> dict | None:
    """The settled split: only with a reimbursement, its parts adding up to the amount."""
    if not settlement:
        return None
    if outcome != "reimbursed":
        raise ValidationFailed("A settlement goes with a reimbursement.", code="settlement_without_reimbursement")
    try:
        parts = {name: parse_fen(value) for name, value in settlement.items()}
    except InvalidAmount as exc:
        raise AmountInvalid(str(exc))
    if sum(parts.values()) != fen:
        raise ValidationFailed(f"The settlement adds up to {format_fen(sum(parts.values()))}, not {format_fen(fen)}.",
                               code="settlement_mismatch", title="结算明细合计与报销金额不符")
    return {name: format_fen(value) for name, value in parts.items()}


def feedback(unit: Unit, key: str, *, lock_token: str, outcome: str, amount=None, reimbursed_at: datetime | None = None,
             reference: str | None = None, reason: str | None = None, settlement: dict | None = None) -> dict:
    """Reports the result (报销反馈) under the current lock; both outcomes unlock. The
    social-insurance centre's `reimbursed` may carry the split it settled (医保资金结算)."""
    if outcome not in ("reimbursed", "rejected"):
        raise ValidationFailed("outcome must be reimbursed or rejected.", code="invalid_outcome")
    if forward.is_foreign(key):
        return forward.feedback(unit, key, lock_token=lock_token, outcome=outcome, amount=amount, reimbursed_at=reimbursed_at,
                                reference=reference, reason=reason, settlement=settlement)
    if outcome == "rejected" and not (reason or "").strip():
        raise ValidationFailed("A rejection needs its reason.", code="reason_required")
    fen = _parse_feedback_amount(outcome, amount)
    settled = _settlement(outcome, fen, settlement)
    now = utcnow()
    when = as_utc(reimbursed_at).astimezone(timezone.utc) if reimbursed_at else now  # stored as UTC on every database
    if when > now + timedelta(minutes=5):
        raise ValidationFailed("reimbursed_at lies in the future.", code="invalid_reimbursed_at")
    receipt = _load_for_update(key)
    held = _held_lock(unit, receipt, lock_token, now)
    remaining = receipt.total_fen - receipt.reimbursed_fen
    if fen > remaining:
        raise AmountExceedsRemaining(f"{format_fen(fen)} exceeds the remaining {format_fen(remaining)} of {key}.",
                                     extra={"remaining_amount": format_fen(remaining)})
    if fen and held.authorization_id:
        _check_authorization_cap(held.authorization_id, fen)

    applied = db.session.execute(_APPLY_FEEDBACK, {"rid": receipt.id, "held": held.id, "now": now, "fen": fen}).rowcount
    if applied != 1 or not _end_lock(held, outcome, now):
        db.session.rollback()
        raise LockTokenInvalid("The lock ended a moment ago; nothing was recorded.", code="lock_ended")
    entry_id = db.session.execute(_INSERT_LEDGER, dict(
        receipt_id=receipt.id, unit_id=unit.id, lock_id=held.id, authorization_id=held.authorization_id, outcome=outcome,
        amount_fen=fen, reimbursed_at=when, reference=reference, reason=reason, settlement=settled, created_at=now)).scalar_one()
    actor = unit_actor(unit)
    units = interested_units(receipt)  # the same for both events: the lock holder and authorized units
    if outcome == "reimbursed":
        record_change(receipt, "receipt.reimbursed", actor, units=units, data={
            "unit": unit.public_view, "amount": format_fen(fen), "reimbursed_at": when.isoformat(), "reference": reference,
            **({"settlement": settled} if settled else {})})
    else:
        record_change(receipt, "receipt.reimbursement_rejected", actor, reason=reason, units=units,
                      data={"unit": unit.public_view, "reference": reference})
    record_change(receipt, "receipt.unlocked", actor, reason="报销完成后自动解锁" if outcome == "reimbursed" else "报销被拒后自动解锁",
                  units=units, data={"unit": unit.public_view, "lock_id": held.id, "end_reason": outcome})
    log_access([receipt.id], unit, "feedback")
    # Exact without re-reading: we hold the row lock and the compare-and-set added `fen`.
    reimbursed = receipt.reimbursed_fen + fen
    answer = {"key": key, "outcome": outcome, "amount": format_fen(fen), "reimbursed_at": when,
              "reimbursed_amount": format_fen(reimbursed), "remaining_amount": format_fen(receipt.total_fen - reimbursed),
              "ledger_entry_id": entry_id}
    db.session.commit()
    return answer


class AlreadyBooked(Conflict):
    code = "already_booked"
    title = "该笔报销已入账，不能重复入账"


def book(unit: Unit, key: str, *, voucher_no: str, booked_on, amount) -> dict:
    """Records the unit's accounting entry (入账) for what it reimbursed (DESIGN §10 revised):
    each of its reimbursements (ledger entries) is booked at most once — the oldest unbooked
    one, up to its amount — and the bookings of all units never exceed the receipt's total,
    so the social-insurance centre and the insurer that paid the remainder each book their
    own part. A unit holding the lock before its feedback may book once, up to what is left
    unbooked. The answer to a refusal names no other unit. Decided by the issuing node."""
    if forward.is_foreign(key):
        return forward.book(unit, key, voucher_no=voucher_no, booked_on=booked_on, amount=amount)
    try:
        fen = parse_fen(amount)
    except InvalidAmount as exc:
        raise AmountInvalid(str(exc))
    if fen <= 0:
        raise AmountInvalid("The booked amount must be greater than 0.")
    now = utcnow()
    receipt = _load_for_update(key)  # the receipt's row lock orders every booking of it
    entries = db.session.scalars(select(LedgerEntry).where(
        LedgerEntry.receipt_id == receipt.id, LedgerEntry.unit_id == unit.id, LedgerEntry.outcome == "reimbursed")
        .order_by(LedgerEntry.id)).all()
    bookings = db.session.scalars(select(Booking).where(Booking.receipt_id == receipt.id)).all()
    holds_lock = receipt.lock_unit_id == unit.id and receipt.lock_expires_at is not None and as_utc(receipt.lock_expires_at) > now
    if not entries and not holds_lock:
        current_app.logger.info("booking refused: unit never reimbursed or held the receipt", extra={"unit_id": unit.id, "receipt_key": key})
        raise ReceiptNotFound(f"No receipt {key} was reimbursed or locked by this unit.")
    booked_entries = {b.ledger_entry_id for b in bookings if b.ledger_entry_id is not None}
    unbooked = [e for e in entries if e.id not in booked_entries]
    own_unlinked = any(b.unit_id == unit.id and b.ledger_entry_id is None for b in bookings)
    if entries and not unbooked or not entries and own_unlinked:
        raise AlreadyBooked(f"What this unit reimbursed on {key} has already been booked.")
    entry = unbooked[0] if unbooked else None
    ceiling = entry.amount_fen if entry is not None else receipt.total_fen
    if fen > ceiling:
        raise AmountExceedsRemaining(f"{format_fen(fen)} is more than this unit reimbursed for {key} ({format_fen(ceiling)}).",
                                     code="amount_exceeds_reimbursed", title="入账金额超过本单位报销金额")
    booked_fen = sum(b.amount_fen for b in bookings)
    if booked_fen + fen > receipt.total_fen:
        raise AlreadyBooked(f"Bookings of {key} would exceed its total.", code="booking_exceeds_total",
                            title="入账金额合计将超过票面金额")
    db.session.add(Booking(receipt_id=receipt.id, unit_id=unit.id, ledger_entry_id=entry.id if entry else None, voucher_no=voucher_no,
                           booked_on=booked_on, amount_fen=fen, created_at=now))
    try:
        db.session.flush()
    except IntegrityError:  # the same reimbursement booked the same instant (the row lock makes this a backstop)
        db.session.rollback()
        raise AlreadyBooked(f"What this unit reimbursed on {key} has already been booked.")
    remaining = receipt.total_fen - receipt.reimbursed_fen
    record_change(receipt, "receipt.booked", unit_actor(unit), units=interested_units(receipt), data={
        "unit": unit.public_view, "voucher_no": voucher_no, "booked_on": booked_on.isoformat(), "amount": format_fen(fen),
        "remaining_amount": format_fen(remaining)})
    log_access([receipt.id], unit, "booking")
    db.session.commit()
    return {"key": key, "voucher_no": voucher_no, "booked_on": booked_on.isoformat(), "amount": format_fen(fen), "booked_at": now}


def _check_authorization_cap(authorization_id: str, fen: int):
    authorization = db.session.get(Authorization, authorization_id)
    if authorization is None or authorization.amount_cap_fen is None:
        return
    used = db.session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(
            LedgerEntry.authorization_id == authorization_id, LedgerEntry.outcome == "reimbursed")
    )
    if used + fen > authorization.amount_cap_fen:
        raise AmountExceedsRemaining(
            f"This authorization allows {format_fen(authorization.amount_cap_fen)} in all; {format_fen(used)} is used.",
            code="amount_exceeds_cap", title="报销金额超过授权额度")


def release_all_locks_of_unit(unit: Unit, actor: Actor, reason: str):
    """Releases every open lock of a unit (cancellation). Caller commits. A lock on another
    province's receipt (a synced copy: no Lock row here) is released by its issuing node,
    asked after the commit until it answers (backend.federation.forward)."""
    now = utcnow()
    receipts = db.session.scalars(
        select(Receipt).where(Receipt.lock_unit_id == unit.id).order_by(Receipt.id).with_for_update(of=Receipt).execution_options(populate_existing=True)
    ).all()
    for receipt in receipts:
        if receipt.synced_at is not None:
            forward.release_for_cancelled_unit(unit, receipt.key)
            continue
        held = db.session.get(Lock, receipt.lock_id)
        _release(receipt, held, "unit_cancelled", actor, reason, now)


def release_lock_of_cancelled_unit(unit: Unit, key: str, actor: Actor) -> dict:
    """The issuing node's side: a unit of another province was cancelled there, and its
    lock on this receipt (if it still holds one) ends. Idempotent."""
    if unit.status != "cancelled":
        raise Conflict("Only a cancelled unit's locks are released this way.", code="unit_not_cancelled",
                       title="报销单位未注销，不能以此方式解除锁定")
    now = utcnow()
    receipt = _load_for_update(key)
    if receipt.lock_unit_id != unit.id or receipt.lock_id is None:
        db.session.rollback()
        return {"key": key, "released": False}
    _release(receipt, db.session.get(Lock, receipt.lock_id), "unit_cancelled", actor, "报销单位账户已注销", now)
    db.session.commit()
    return {"key": key, "released": True}


def ledger_view(receipt_id: int, units_by_id=None) -> list[dict]:
    entries = db.session.scalars(select(LedgerEntry).where(LedgerEntry.receipt_id == receipt_id).order_by(LedgerEntry.id)).all()
    units = units_by_id or {u.id: u for u in db.session.scalars(select(Unit).where(Unit.id.in_({e.unit_id for e in entries})))}
    return [
        {"unit": units[e.unit_id].public_view if e.unit_id in units else {"id": e.unit_id}, "outcome": e.outcome,
         "amount": format_fen(e.amount_fen), "reimbursed_at": as_utc(e.reimbursed_at).isoformat(), "reference": e.reference,
         "reason": e.reason, "settlement": e.settlement}
        for e in entries
    ]
