"""Unit accounts (单位数字账户): opened, frozen, unfrozen and cancelled by fiscal operators.

Decision (docs/decisions/frozen-units.md): a frozen unit starts nothing new (no QR
requests, locks or renewals) but may still unlock, or report feedback on, locks it already
holds, so money already paid is recorded; cancellation releases its locks and revokes its
authorizations.
"""
from sqlalchemy import select, update

from backend.clients.models import ApiClient
from backend.clients.services import create_client, rotate_secret
from backend.common import row_cache
from backend.common.actors import Actor
from backend.common.errors import Conflict, NotFound, ValidationFailed
from backend.common.models import utcnow
from backend.extensions import db
from backend.issuers.services import CREDIT_CODE
from backend.units.guards import UnitNotActive, require_active, require_not_cancelled  # noqa: F401 - used here and re-exported
from backend.units.models import UNIT_KINDS, Unit


def operator_actor(client) -> Actor:
    return Actor("operator", client.id, client.name)


def unit_actor(unit: Unit) -> Actor:
    return Actor("unit", unit.id, unit.name)


def open_unit(*, name: str, credit_code: str, kind: str, province: str) -> tuple[Unit, ApiClient, str]:
    if kind not in UNIT_KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(UNIT_KINDS)}", code="invalid_unit_kind")
    if not CREDIT_CODE.fullmatch(credit_code or ""):
        raise ValidationFailed("credit_code must be an 18-character unified social credit code.", code="invalid_credit_code")
    if not (isinstance(province, str) and len(province) == 2 and province.isascii() and province.isdigit()):
        raise ValidationFailed("province must be a two-digit region code.", code="invalid_province")
    if db.session.scalar(select(Unit.id).where(Unit.credit_code == credit_code)):
        raise Conflict("A unit with this credit code already has an account.", code="unit_exists")
    unit = Unit(name=name.strip(), credit_code=credit_code, kind=kind, province=province, status="active")
    db.session.add(unit)
    db.session.flush()
    client, secret = create_client("unit", unit.name, subject_id=unit.id)
    db.session.commit()
    return unit, client, secret


def get_unit(unit_id: str, *, for_update=False) -> Unit:
    query = select(Unit).where(Unit.id == unit_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    unit = db.session.scalar(query)
    if unit is None:
        raise NotFound("No such unit.", code="unit_not_found", title="报销单位不存在")
    return unit


def _set_status(unit_id: str, target: str, allowed_from: tuple, reason: str | None) -> Unit:
    unit = get_unit(unit_id, for_update=True)
    if unit.status == target:
        return unit
    if unit.status not in allowed_from:
        raise Conflict(f"A {unit.status} unit cannot become {target}.", code="invalid_unit_transition", title="报销单位当前状态不允许此操作")
    unit.status = target
    unit.status_reason = reason
    unit.status_changed_at = utcnow()
    return unit


def freeze(unit_id: str, reason: str | None = None) -> Unit:
    unit = _set_status(unit_id, "frozen", ("active",), reason)
    db.session.commit()
    return unit


def unfreeze(unit_id: str, reason: str | None = None) -> Unit:
    unit = _set_status(unit_id, "active", ("frozen",), reason)
    db.session.commit()
    return unit


def cancel(unit_id: str, operator, reason: str | None = None) -> Unit:
    """Cancels the account: its clients stop working, its locks are released and its
    authorizations revoked, each with a timeline entry — all in one transaction."""
    from backend.authorizations.services import revoke_all_for_unit
    from backend.reimbursements.services import release_all_locks_of_unit

    unit = _set_status(unit_id, "cancelled", ("active", "frozen"), reason)
    db.session.execute(update(ApiClient).where(ApiClient.role == "unit", ApiClient.subject_id == unit.id).values(active=False))
    row_cache.invalidate_after_commit(ApiClient)
    actor = operator_actor(operator)
    release_all_locks_of_unit(unit, actor, reason or "报销单位账户已注销")
    revoke_all_for_unit(unit, actor)
    db.session.commit()
    return unit


def rotate_credentials(unit_id: str) -> tuple[ApiClient, str]:
    unit = get_unit(unit_id)
    require_not_cancelled(unit)
    client = db.session.scalar(select(ApiClient).where(ApiClient.role == "unit", ApiClient.subject_id == unit.id, ApiClient.active.is_(True)))
    if client is None:
        client, secret = create_client("unit", unit.name, subject_id=unit.id)
    else:
        secret = rotate_secret(client)
    db.session.commit()
    return client, secret


