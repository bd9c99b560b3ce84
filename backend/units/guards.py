"""Checks on a unit that every part may make (routes, services, delivery): which unit a
client acts for, and whether it may start something new. No services here."""
from backend.common import row_cache
from backend.common.errors import DomainError, NotFound
from backend.units.models import Unit


class UnitNotActive(DomainError):
    status = 403
    code = "unit_not_active"
    title = "报销单位账户已冻结或注销"


def require_active(unit: Unit):
    if unit.status != "active":
        raise UnitNotActive(f"This unit's account is {unit.status}; it cannot start anything new.")


def require_not_cancelled(unit: Unit):
    if unit.status == "cancelled":
        raise UnitNotActive("This unit's account is cancelled.")


def unit_of_client(client) -> Unit:
    """The unit a unit client acts for; cancelled units are refused outright."""
    unit = row_cache.get(Unit, client.subject_id)
    if unit is None:
        raise NotFound("No such unit.", code="unit_not_found")
    require_not_cancelled(unit)
    return unit
