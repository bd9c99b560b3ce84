"""QR authorization (授信流转, DESIGN §3): a unit's request shown as a QR code, the
citizen's scan, approval of named receipts or decline, consent records and revocation.

The QR carries only a random token (192 bits) that points at the request on this node;
everything shown to the citizen comes from the database. A token is single use: the first
scan binds the request to that citizen, the first decision ends it, and it dies 5 minutes
after creation if nobody scanned it (after a scan the citizen has QR_DECISION_SECONDS).
"""
import re
import secrets
from datetime import timedelta

from flask import current_app, request
from sqlalchemy import and_, or_, select, update

from backend.authorizations.models import Authorization, AuthorizationRequest, AuthorizedReceipt
from backend.common.actors import Actor
from backend.common.crypto import pii, sha256_hex
from backend.common.errors import DomainError, NotFound, ValidationFailed
from backend.common.models import as_utc, utcnow
from backend.common.money import format_fen, parse_fen
from backend.extensions import db
from backend.events.outbox import emit
from backend.receipts.events import record_change
from backend.receipts.models import Receipt
from backend.units.models import Unit
from backend.units.guards import require_active

TOKEN_CONTEXT = "qr-token"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
_QR_URL = re.compile(r"^https?://[^\s]+/q/([A-Za-z0-9_-]{20,64})/?$")


class QrError(DomainError):
    status = 410
    code = "qr_expired"
    title = "二维码已失效，请让报销单位重新生成"


class QrUsed(QrError):
    code = "qr_used"
    title = "二维码已被使用"


class QrNotFound(NotFound):
    code = "qr_not_found"
    title = "无法识别的二维码"


class ReceiptsNotEligible(ValidationFailed):
    code = "receipt_not_eligible"
    title = "所选票据不能授权给该单位"


class AuthorizationNotFound(NotFound):
    code = "authorization_not_found"
    title = "未找到该授权"


def _citizen_actor(citizen) -> Actor:
    return Actor("citizen", citizen.id, "本人")


def qr_text_for(token: str) -> str:
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    return f"{base.rstrip('/')}/q/{token}"


def _decision_deadline(req: AuthorizationRequest):
    if req.scanned_at is not None:
        return as_utc(req.scanned_at) + timedelta(seconds=current_app.config["QR_DECISION_SECONDS"])
    return as_utc(req.expires_at)


def effective_status(req: AuthorizationRequest, now=None) -> str:
    now = now or utcnow()
    if req.status == "pending" and _decision_deadline(req) <= now:
        return "expired"
    return req.status


# --- unit side ------------------------------------------------------------------

def create_request(unit: Unit, *, purpose: str, reference: str | None = None, amount_cap: str | None = None) -> dict:
    require_active(unit)
    cap = parse_fen(amount_cap) if amount_cap is not None else None
    if cap is not None and cap <= 0:
        raise ValidationFailed("amount_cap must be greater than 0.", code="invalid_amount")
    token = secrets.token_urlsafe(24)
    now = utcnow()
    req = AuthorizationRequest(unit_id=unit.id, purpose=purpose, reference=reference, amount_cap_fen=cap,
                               token_hash=sha256_hex(token), token_enc=pii().encrypt(token, TOKEN_CONTEXT), status="pending",
                               created_at=now, expires_at=now + timedelta(seconds=current_app.config["QR_TTL_SECONDS"]))
    db.session.add(req)
    db.session.commit()
    return {"id": req.id, "qr_text": qr_text_for(token), "expires_at": req.expires_at, "purpose": purpose, "reference": reference,
            "amount_cap": format_fen(cap) if cap is not None else None}


def _unit_request(unit: Unit, request_id: str) -> AuthorizationRequest:
    req = db.session.get(AuthorizationRequest, request_id)
    if req is None or req.unit_id != unit.id:
        raise NotFound("No such authorization request.", code="authorization_request_not_found", title="未找到该授权请求")
    return req


def request_view_for_unit(unit: Unit, request_id: str) -> dict:
    req = _unit_request(unit, request_id)
    keys, auth_expires = [], None
    if req.authorization_id:
        auth = db.session.get(Authorization, req.authorization_id)
        auth_expires = auth.expires_at
        keys = [f"{r.code}-{r.number}" for r in db.session.scalars(
            select(Receipt).join(AuthorizedReceipt, AuthorizedReceipt.receipt_id == Receipt.id)
            .where(AuthorizedReceipt.authorization_id == auth.id).order_by(AuthorizedReceipt.id))]
    return {"id": req.id, "status": effective_status(req), "purpose": req.purpose, "reference": req.reference,
            "amount_cap": format_fen(req.amount_cap_fen) if req.amount_cap_fen is not None else None,
            "created_at": req.created_at, "expires_at": req.expires_at, "scanned": req.scanned_at is not None,
            "decided_at": req.decided_at, "receipt_keys": keys, "authorization_id": req.authorization_id,
            "authorization_expires_at": auth_expires}


def qr_token_for_unit(unit: Unit, request_id: str) -> str:
    req = _unit_request(unit, request_id)
    if effective_status(req) != "pending" or req.scanned_at is not None or req.token_enc is None:
        raise QrError("This QR code is no longer valid; create a new authorization request.")
    return pii().decrypt(req.token_enc, TOKEN_CONTEXT)


# --- citizen side ---------------------------------------------------------------

def _token_from(qr_text: str) -> str:
    text = (qr_text or "").strip()
    match = _QR_URL.match(text)
    if match:
        return match.group(1)
    if _TOKEN.fullmatch(text):
        return text
    raise ValidationFailed("This is not a Piaojia authorization QR code.", code="invalid_qr", title="无法识别的二维码")


def _eligible_clause(citizen, unit_id: str, now):
    return and_(
        Receipt.payer_hash == citizen.id_hash,
        Receipt.lifecycle == "issued",
        Receipt.reimbursed_fen < Receipt.total_fen,
        or_(Receipt.lock_unit_id.is_(None), Receipt.lock_expires_at <= now, Receipt.lock_unit_id == unit_id),
    )


def _receipt_summary(r: Receipt) -> dict:
    from backend.receipts.presenters import status_fields

    status = status_fields(r)
    return {"key": r.key, "title": r.elements.get("title"), "issuer": r.elements["issuer"]["name"],
            "issue_date": r.issue_date.isoformat(), "total_amount": r.elements["total_amount"],
            "remaining_amount": status["remaining_amount"], "display_status": status["display_status"]}


def scan(citizen, qr_text: str) -> dict:
    token = _token_from(qr_text)
    now = utcnow()
    req = db.session.scalar(select(AuthorizationRequest).where(AuthorizationRequest.token_hash == sha256_hex(token)))
    if req is None:
        raise QrNotFound("No authorization request matches this QR code.")
    if req.status != "pending":
        raise QrUsed("This QR code has already been used.")
    if req.citizen_id not in (None, citizen.id):
        raise QrUsed("This QR code has already been scanned by someone else.")
    if effective_status(req, now) == "expired":
        raise QrError("This QR code has expired.")
    if req.citizen_id is None:
        bound = db.session.execute(
            update(AuthorizationRequest).where(AuthorizationRequest.id == req.id, AuthorizationRequest.citizen_id.is_(None),
                                               AuthorizationRequest.status == "pending")
            .values(citizen_id=citizen.id, scanned_at=now).execution_options(synchronize_session=False)).rowcount
        if bound != 1:
            db.session.rollback()
            raise QrUsed("This QR code has just been scanned by someone else.")
        unit = db.session.get(Unit, req.unit_id)
        emit("authorization.requested", payer_hash=citizen.id_hash, unit_ids=[unit.id],
             data={"request_id": req.id, "unit": unit.public_view, "purpose": req.purpose, "reference": req.reference})
        db.session.commit()
        db.session.refresh(req)
    unit = db.session.get(Unit, req.unit_id)
    eligible = db.session.scalars(select(Receipt).where(_eligible_clause(citizen, unit.id, now))
                                  .order_by(Receipt.issue_date.desc(), Receipt.id.desc()).limit(200)).all()
    return {"id": req.id, "unit": unit.public_view, "purpose": req.purpose, "reference": req.reference,
            "amount_cap": format_fen(req.amount_cap_fen) if req.amount_cap_fen is not None else None,
            "expires_at": _decision_deadline(req), "eligible_receipts": [_receipt_summary(r) for r in eligible]}


def _citizen_request(citizen, request_id: str, now) -> AuthorizationRequest:
    req = db.session.scalar(select(AuthorizationRequest).where(AuthorizationRequest.id == request_id).with_for_update().execution_options(populate_existing=True))
    if req is None or req.citizen_id != citizen.id:
        raise NotFound("No such authorization request; scan its QR code first.", code="authorization_request_not_found",
                       title="未找到该授权请求，请先扫码")
    if req.status != "pending":
        raise QrUsed("This request has already been decided.")
    if effective_status(req, now) == "expired":
        raise QrError("This request has expired.")
    return req


def _decide(req: AuthorizationRequest, status: str, now) -> None:
    done = db.session.execute(
        update(AuthorizationRequest).where(AuthorizationRequest.id == req.id, AuthorizationRequest.status == "pending")
        .values(status=status, decided_at=now, token_enc=None).execution_options(synchronize_session=False)).rowcount
    if done != 1:
        db.session.rollback()
        raise QrUsed("This request has just been decided.")


def approve(citizen, request_id: str, receipt_keys: list[str]) -> dict:
    now = utcnow()
    req = _citizen_request(citizen, request_id, now)
    unit = db.session.get(Unit, req.unit_id)
    require_active(unit)
    wanted = {}
    for key in receipt_keys:
        code, _, number = key.partition("-")
        wanted[(code, number)] = key
    codes = {c for c, _ in wanted}
    numbers = {n for _, n in wanted}
    rows = db.session.scalars(select(Receipt).where(Receipt.code.in_(codes), Receipt.number.in_(numbers),
                                                    _eligible_clause(citizen, unit.id, now))
                              .order_by(Receipt.id).with_for_update(of=Receipt).execution_options(populate_existing=True)).all()
    found = {(r.code, r.number): r for r in rows if (r.code, r.number) in wanted}
    missing = [key for pair, key in wanted.items() if pair not in found]
    if missing:
        db.session.rollback()
        raise ReceiptsNotEligible(f"{len(missing)} receipt(s) cannot be authorized: not yours, unknown, or no longer reimbursable.",
                                  extra={"receipt_keys": missing})
    _decide(req, "approved", now)
    expires = now + timedelta(days=current_app.config["AUTHORIZATION_TTL_DAYS"])
    auth = Authorization(request_id=req.id, unit_id=unit.id, citizen_id=citizen.id, purpose=req.purpose,
                         reference=req.reference, amount_cap_fen=req.amount_cap_fen, created_at=now, expires_at=expires)
    db.session.add(auth)
    db.session.flush()
    actor = _citizen_actor(citizen)
    for receipt in found.values():
        db.session.add(AuthorizedReceipt(authorization_id=auth.id, receipt_id=receipt.id, unit_id=unit.id, expires_at=expires))
    db.session.flush()
    for receipt in found.values():
        record_change(receipt, "receipt.authorized", actor, data={"unit": unit.public_view, "purpose": req.purpose,
                                                                 "authorization_id": auth.id, "expires_at": expires.isoformat()})
    db.session.execute(update(AuthorizationRequest).where(AuthorizationRequest.id == req.id).values(authorization_id=auth.id)
                       .execution_options(synchronize_session=False))
    keys = sorted(wanted.values())
    emit("authorization.approved", payer_hash=citizen.id_hash, unit_ids=[unit.id],
         data={"request_id": req.id, "authorization_id": auth.id, "unit": unit.public_view, "receipt_keys": keys,
               "reference": req.reference})
    db.session.commit()
    return {"id": auth.id, "request_id": req.id, "status": "approved", "unit": unit.public_view, "receipt_keys": keys,
            "expires_at": expires}


def decline(citizen, request_id: str) -> dict:
    now = utcnow()
    req = _citizen_request(citizen, request_id, now)
    _decide(req, "declined", now)
    unit = db.session.get(Unit, req.unit_id)
    emit("authorization.declined", payer_hash=citizen.id_hash, unit_ids=[unit.id],
         data={"request_id": req.id, "unit": unit.public_view, "reference": req.reference})
    db.session.commit()
    return {"request_id": req.id, "status": "declined"}


# --- consent records ------------------------------------------------------------

def _auth_status(auth: Authorization, receipts: list[AuthorizedReceipt], now) -> str:
    if auth.revoked_at is not None or (receipts and all(r.revoked_at is not None for r in receipts)):
        return "revoked"
    if as_utc(auth.expires_at) <= now:
        return "expired"
    return "active"


def list_authorizations(citizen, *, limit=50) -> dict:
    now = utcnow()
    auths = db.session.scalars(select(Authorization).where(Authorization.citizen_id == citizen.id)
                               .order_by(Authorization.created_at.desc()).limit(limit)).all()
    ids = [a.id for a in auths]
    grants = db.session.execute(
        select(AuthorizedReceipt, Receipt).join(Receipt, Receipt.id == AuthorizedReceipt.receipt_id)
        .where(AuthorizedReceipt.authorization_id.in_(ids)).order_by(AuthorizedReceipt.id)).all() if ids else []
    units = {u.id: u for u in db.session.scalars(select(Unit).where(Unit.id.in_({a.unit_id for a in auths})))} if auths else {}
    by_auth: dict[str, list] = {}
    for grant, receipt in grants:
        by_auth.setdefault(grant.authorization_id, []).append((grant, receipt))
    items = []
    for a in auths:
        rows = by_auth.get(a.id, [])
        items.append({
            "id": a.id, "unit": units[a.unit_id].public_view, "purpose": a.purpose, "reference": a.reference,
            "amount_cap": format_fen(a.amount_cap_fen) if a.amount_cap_fen is not None else None,
            "created_at": a.created_at, "expires_at": a.expires_at, "revoked_at": a.revoked_at,
            "status": _auth_status(a, [g for g, _ in rows], now),
            "receipts": [{"key": r.key, "revoked_at": g.revoked_at,
                          "locked": r.lock_unit_id == a.unit_id and r.lock_expires_at is not None and as_utc(r.lock_expires_at) > now}
                         for g, r in rows],
        })
    return {"items": items, "next_cursor": None}


def revoke(citizen, authorization_id: str) -> dict:
    """Revokes the authorization for every receipt the unit has not locked; locked ones
    stay authorized until their lock ends. Takes the receipts' row locks (ordered by id)
    first, so it serialises with a concurrent lock()."""
    auth = db.session.get(Authorization, authorization_id)
    if auth is None or auth.citizen_id != citizen.id:
        raise AuthorizationNotFound("No such authorization.")
    now = utcnow()
    receipt_ids = db.session.scalars(select(AuthorizedReceipt.receipt_id).where(AuthorizedReceipt.authorization_id == auth.id)).all()
    receipts = {r.id: r for r in db.session.scalars(select(Receipt).where(Receipt.id.in_(receipt_ids)).order_by(Receipt.id)
                                                     .with_for_update(of=Receipt).execution_options(populate_existing=True))}
    grants = db.session.scalars(select(AuthorizedReceipt).where(AuthorizedReceipt.authorization_id == auth.id)
                                .order_by(AuthorizedReceipt.id)).all()
    revoked, kept = [], []
    for grant in grants:
        receipt = receipts[grant.receipt_id]
        if grant.revoked_at is not None:
            continue
        locked_by_unit = receipt.lock_unit_id == auth.unit_id and as_utc(receipt.lock_expires_at) > now
        if locked_by_unit:
            kept.append({"key": receipt.key, "reason": "locked", "detail": "报销单位已锁定该票据，锁定结束后方可撤销"})
            continue
        grant.revoked_at = now
        revoked.append(receipt.key)
    if not kept:
        auth.revoked_at = auth.revoked_at or now
        auth.revoked_by = auth.revoked_by or "citizen"
    if revoked:
        unit = db.session.get(Unit, auth.unit_id)
        emit("authorization.revoked", payer_hash=citizen.id_hash, unit_ids=[unit.id],
             data={"authorization_id": auth.id, "unit": unit.public_view, "receipt_keys": revoked, "by": "citizen"})
    db.session.commit()
    return {"id": auth.id, "revoked": revoked, "kept": kept, "status": _auth_status(auth, grants, now)}


def revoke_all_for_unit(unit: Unit, actor: Actor):
    """Cancellation of a unit: every live authorization to it is revoked. Caller commits."""
    from backend.citizens.models import Citizen

    now = utcnow()
    auths = db.session.scalars(select(Authorization).where(Authorization.unit_id == unit.id, Authorization.revoked_at.is_(None))).all()
    for auth in auths:
        keys = [r.key for r in db.session.scalars(
            select(Receipt).join(AuthorizedReceipt, AuthorizedReceipt.receipt_id == Receipt.id)
            .where(AuthorizedReceipt.authorization_id == auth.id, AuthorizedReceipt.revoked_at.is_(None)))]
        db.session.execute(update(AuthorizedReceipt).where(AuthorizedReceipt.authorization_id == auth.id,
                                                           AuthorizedReceipt.revoked_at.is_(None))
                           .values(revoked_at=now).execution_options(synchronize_session=False))
        auth.revoked_at, auth.revoked_by = now, "system"
        citizen = db.session.get(Citizen, auth.citizen_id)
        if keys and as_utc(auth.expires_at) > now:
            emit("authorization.revoked", payer_hash=citizen.id_hash, unit_ids=[unit.id],
                 data={"authorization_id": auth.id, "unit": unit.public_view, "receipt_keys": keys, "by": actor.type,
                       "reason": "报销单位账户已注销"})
