"""A unit's own receipts (单位数字账户): receipts whose payer is the unit itself
(`payer.id_type` = organization, `payer.id_number` = its credit code), and passing one on to
another unit (授信流转), which then holds an authorization exactly as if a citizen had approved
it. Transfers are logged on the timeline and revocable until the recipient locks the receipt."""
import base64
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from backend.authorizations.models import Authorization, AuthorizedReceipt
from backend.authorizations.queries import interested_units
from backend.common.crypto import pii
from backend.common.errors import Conflict, NotFound, ValidationFailed
from backend.common.models import as_utc, utcnow
from backend.extensions import db
from backend.receipts.events import record_change
from backend.receipts.models import Receipt
from backend.units.guards import require_active
from backend.units.models import Unit


def _own_hash(unit: Unit) -> str:
    return pii().lookup_hash("organization", unit.credit_code)


def own_receipts(unit: Unit, *, cursor=None, limit=20) -> dict:
    from backend.units.views import present

    query = select(Receipt).where(Receipt.payer_hash == _own_hash(unit))
    if cursor:
        try:
            query = query.where(Receipt.id < int(base64.urlsafe_b64decode(cursor + "==").decode()))
        except (ValueError, UnicodeDecodeError):
            raise ValidationFailed("Malformed cursor.", code="invalid_cursor")
    rows = db.session.scalars(query.order_by(Receipt.id.desc()).limit(limit + 1)).all()
    page = rows[:limit]
    next_cursor = base64.urlsafe_b64encode(str(page[-1].id).encode()).rstrip(b"=").decode() if len(rows) > limit else None
    return {"items": present(page, unit), "next_cursor": next_cursor}


def _own_receipt(unit: Unit, key: str, *, for_update=False) -> Receipt:
    code, _, number = key.partition("-")
    query = select(Receipt).where(Receipt.code == code, Receipt.number == number, Receipt.payer_hash == _own_hash(unit))
    receipt = db.session.scalar(query.with_for_update() if for_update else query)
    if receipt is None:
        raise NotFound(f"No receipt {key} of this unit's own.", code="receipt_not_found", title="未找到该票据")
    return receipt


def _view(auth: Authorization, grant: AuthorizedReceipt, recipient: Unit, receipt: Receipt) -> dict:
    return {"id": auth.id, "receipt_key": receipt.key, "to": recipient.public_view, "created_at": as_utc(auth.created_at).isoformat(),
            "expires_at": as_utc(auth.expires_at).isoformat(),
            "revoked_at": as_utc(auth.revoked_at).isoformat() if auth.revoked_at else None,
            "locked_by_recipient": receipt.lock_unit_id == recipient.id and receipt.lock_expires_at is not None
            and as_utc(receipt.lock_expires_at) > utcnow()}


def transfer(unit: Unit, key: str, to_credit_code: str) -> dict:
    require_active(unit)
    receipt = _own_receipt(unit, key, for_update=True)
    recipient = db.session.scalar(select(Unit).where(Unit.credit_code == to_credit_code))
    if recipient is None:
        raise NotFound("No unit has this credit code.", code="unit_not_found", title="未找到该报销单位")
    if recipient.id == unit.id:
        raise ValidationFailed("A unit cannot pass a receipt on to itself.", code="same_unit", title="不能转给本单位")
    if recipient.status != "active":
        raise Conflict("That unit's account is frozen or cancelled.", code="unit_not_active", title="接收单位账户已冻结或注销")
    if receipt.lifecycle != "issued":
        raise Conflict(f"Receipt {key} is {receipt.lifecycle}.", code="not_reimbursable", title="票据状态不允许报销")
    now = utcnow()
    expires = now + timedelta(days=current_app.config["AUTHORIZATION_TTL_DAYS"])
    auth = Authorization(unit_id=recipient.id, grantor_unit_id=unit.id, purpose="单位授信流转", created_at=now, expires_at=expires)
    db.session.add(auth)
    db.session.flush()
    grant = AuthorizedReceipt(authorization_id=auth.id, receipt_id=receipt.id, unit_id=recipient.id, expires_at=expires)
    db.session.add(grant)
    from backend.units.services import unit_actor

    record_change(receipt, "receipt.authorized", unit_actor(unit), units=interested_units(receipt, recipient.id),
                  data={"unit": recipient.public_view, "authorization_id": auth.id, "by_unit": unit.public_view})
    db.session.commit()
    return _view(auth, grant, recipient, receipt)


def transfers_of(unit: Unit, key: str) -> dict:
    receipt = _own_receipt(unit, key)
    rows = db.session.execute(select(Authorization, AuthorizedReceipt, Unit).join(AuthorizedReceipt, AuthorizedReceipt.authorization_id == Authorization.id)
                              .join(Unit, Unit.id == Authorization.unit_id)
                              .where(Authorization.grantor_unit_id == unit.id, AuthorizedReceipt.receipt_id == receipt.id)
                              .order_by(Authorization.created_at.desc())).all()
    return {"items": [_view(auth, grant, recipient, receipt) for auth, grant, recipient in rows]}


def revoke(unit: Unit, key: str, transfer_id: str) -> dict:
    receipt = _own_receipt(unit, key, for_update=True)
    found = db.session.execute(select(Authorization, AuthorizedReceipt).join(AuthorizedReceipt, AuthorizedReceipt.authorization_id == Authorization.id)
                               .where(Authorization.id == transfer_id, Authorization.grantor_unit_id == unit.id,
                                      AuthorizedReceipt.receipt_id == receipt.id)).first()
    if found is None:
        raise NotFound("No such transfer of this receipt.", code="transfer_not_found", title="未找到该转授记录")
    auth, grant = found
    recipient = db.session.get(Unit, auth.unit_id)
    now = utcnow()
    if receipt.lock_unit_id == recipient.id and receipt.lock_expires_at is not None and as_utc(receipt.lock_expires_at) > now:
        raise Conflict("The recipient has locked the receipt; it can no longer be revoked.", code="locked_by_recipient",
                       title="接收单位已锁定该票据，不能撤销")
    if auth.revoked_at is None:
        auth.revoked_at, auth.revoked_by, grant.revoked_at = now, "unit", now
        from backend.units.services import unit_actor

        record_change(receipt, "receipt.authorized", unit_actor(unit), reason="转授已撤销", units={recipient.id},
                      data={"unit": recipient.public_view, "authorization_id": auth.id, "revoked": True})
    db.session.commit()
    return _view(auth, grant, recipient, receipt)
