"""A unit of this node acting on a receipt issued in another province: the request goes
through the hub to the issuing node, which decides; its signed answer comes back within
the unit's request, and its effects are applied to the synced copy here. An issuing node
that cannot be reached in FEDERATION_TIMEOUT_SECONDS gives 503 `issuing_node_unavailable`;
a lock whose answer did not arrive in time is undone by a job (nothing is left half-done).
"""
import uuid

from flask import current_app

from backend.common.errors import DomainError
from backend.events.dispatch import after_commit
from backend.extensions import db
from backend.federation import messages, transport
from backend.federation.exchange import send


CANCEL_LOCK = "backend.federation.outbound.cancel_lock"


def is_foreign(key: str) -> bool:
    from backend.federation import enabled

    return enabled(current_app) and isinstance(key, str) and key[:2].isdigit() and key[:2] != current_app.config["NODE_PROVINCE"]


def _result(status: int, body: dict) -> dict:
    if status >= 400:
        problem = body.get("problem") or {}
        raise DomainError(problem.get("detail"), code=problem.get("code"), title=problem.get("title"), status=status)
    return body.get("result") or {}


def _sync_copy(result: dict, key: str):
    """The answer's snapshot moves the synced copy forward — only a snapshot of the receipt
    asked about, from its issuing node (`send` checked the answer's signer is `key[:2]`)."""
    from backend.federation.exchange import InvalidAnswer
    from backend.federation.inbound import apply_snapshot

    snap = result.pop("snapshot", None)
    if not snap:
        return
    from backend.federation.inbound import SnapshotRefused

    if not isinstance(snap, dict) or snap.get("key") != key:
        current_app.logger.warning("federation answer carried a snapshot of another receipt", extra={"receipt_key": key})
        raise InvalidAnswer("The answer carries a snapshot of another receipt.")
    try:
        apply_snapshot(snap, key[:2])
    except SnapshotRefused as exc:
        raise InvalidAnswer(f"The answer's snapshot is refused: {exc.detail}")


def _proof_for_digital_account(unit, key: str) -> dict:
    """Digital-account mode on a synced receipt: the citizen authorized it here, so this
    node checks the authorization and proves possession on the unit's behalf with the
    synced elements (the issuing node checks that proof like any other)."""
    from backend.authorizations.queries import active_grant
    from backend.reimbursements.services import ReceiptNotFound
    from backend.receipts.services import find_by_key

    receipt = find_by_key(key)
    if receipt is None or active_grant(unit.id, receipt.id) is None:
        raise ReceiptNotFound(f"No receipt {key} is authorized to this unit.")
    db.session.rollback()
    return {"check_code": receipt.check_code, "total_amount": receipt.elements["total_amount"], "mode": "digital_account"}


def lock(unit, key, check_code=None, total_amount=None) -> dict:
    from backend.units.guards import require_active

    require_active(unit)
    params = {"check_code": check_code, "total_amount": total_amount, "mode": "interface"} if check_code is not None or \
        total_amount is not None else _proof_for_digital_account(unit, key)
    jti = uuid.uuid4().hex
    try:
        status, body = send(unit, "unit.lock", key, params, jti=jti)
    except transport.PeerTimedOut:
        # The issuing node may still grant it: undo it once it has (or the request expired).
        from datetime import timedelta

        from backend.common.models import utcnow
        from backend.federation.models import PendingCancellation

        db.session.rollback()
        # After the request's exp (plus the receiver's leeway) the issuing node refuses it: if
        # it has not seen it by then, it never will.
        ttl = int(current_app.config["FEDERATION_MESSAGE_TTL_SECONDS"]) + messages.LEEWAY_SECONDS
        db.session.add(PendingCancellation(jti=jti, receipt_key=key, unit_id=unit.id, not_after=utcnow() + timedelta(seconds=ttl)))
        after_commit(CANCEL_LOCK, jti, queue="default", job_id=f"fed-cancel-{jti}")
        db.session.commit()
        raise
    result = _result(status, body)
    _sync_copy(result, key)
    return result


def release_for_cancelled_unit(unit, key: str) -> None:
    """The unit is being cancelled here while it holds a lock on a receipt of another
    province: after the commit, its issuing node is asked to release it (`unit.release`),
    retried (job and sweeper) until it has answered. Caller commits."""
    from backend.common.models import utcnow
    from backend.federation.models import PendingCancellation

    jti = uuid.uuid4().hex
    db.session.add(PendingCancellation(jti=jti, kind="unit_cancelled", receipt_key=key, unit_id=unit.id, not_after=utcnow()))
    after_commit(settle_release, jti, queue="default", job_id=f"fed-cancel-{jti}")


def settle_release(jti: str):
    """Job: the issuing node releases the cancelled unit's lock (`unit.release`); its answer's
    snapshot updates the copy here. Idempotent; re-raises (the job and the sweeper retry)
    until the issuing node has answered."""
    from backend.common.models import utcnow
    from backend.federation.models import PendingCancellation
    from backend.units.models import Unit

    pending = db.session.get(PendingCancellation, jti)
    if pending is None or pending.done_at is not None:
        return
    key = pending.receipt_key
    status, body = send(db.session.get(Unit, pending.unit_id), "unit.release", key, {})
    if status >= 500:
        raise transport.IssuingNodeUnavailable(f"The issuing node answered {status}; retrying.")
    result = body.get("result") or {}
    if status < 300:
        _sync_copy(result, key)
    pending = db.session.get(PendingCancellation, jti)
    pending.done_at = utcnow()
    pending.result = ("released" if result.get("released") else "nothing_to_release") if status < 300 else \
        (body.get("problem") or {}).get("code") or str(status)
    db.session.commit()
    current_app.logger.info("cancelled unit's remote lock settled", extra={"receipt_key": key, "result": pending.result})


def _simple(unit, msg_type: str, key: str, params: dict) -> dict:
    status, body = send(unit, msg_type, key, params)
    result = _result(status, body)
    _sync_copy(result, key)
    return result


def unlock(unit, key, lock_token, reason=None) -> dict:
    return _simple(unit, "unit.unlock", key, {"lock_token": lock_token, "reason": reason})


def renew(unit, key, lock_token) -> dict:
    return _simple(unit, "unit.renew", key, {"lock_token": lock_token})


def feedback(unit, key, *, lock_token, outcome, amount=None, reimbursed_at=None, reference=None, reason=None, settlement=None) -> dict:
    return _simple(unit, "unit.feedback", key, {
        "lock_token": lock_token, "outcome": outcome, "amount": amount, "reference": reference, "reason": reason, "settlement": settlement,
        "reimbursed_at": reimbursed_at.isoformat() if reimbursed_at else None})


def book(unit, key, *, voucher_no, booked_on, amount) -> dict:
    return _simple(unit, "unit.booking", key, {"voucher_no": voucher_no, "booked_on": booked_on.isoformat(), "amount": amount})


def verify(unit, items: list[dict]) -> list[dict]:
    """Batch verification of foreign receipts, one message per issuing province."""
    by_province: dict[str, list] = {}
    for index, item in items:
        by_province.setdefault(item["code"][:2], []).append((index, item))
    results = []
    for province, entries in by_province.items():
        status, body = send(unit, "unit.verify", f"{province}00000000-0000000000", {"items": [i for _, i in entries]})
        answered = _result(status, body).get("items") or []
        for (index, _), outcome in zip(entries, answered):
            results.append({**outcome, "index": index})
    return results


def data_file(receipt) -> bytes:
    """The complete data file of another province's receipt, from its issuing node, for the
    payer whose synced copy this is (the issuing node gives it only for that payer)."""
    import base64
    import binascii

    from backend.federation.exchange import InvalidAnswer, ask

    status, body = ask("receipt.data_file", receipt.key, {"payer_fhash": receipt.payer_fhash})
    result = _result(status, body)
    try:
        return base64.b64decode(result.get("data_file") or "", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidAnswer("The issuing node's data file is not base64.")
