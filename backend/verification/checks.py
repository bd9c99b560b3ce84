"""查验次数 (DESIGN §11): how often, and when last, a receipt was checked.

Every check that identified a receipt — right elements (`/verify`, a unit's batch), or a valid
file of this node (`/verify/layout`, `/verify/data-file`), or the printed QR's page with the
right check code — appends one row to `receipt_checks`; a wrong guess appends nothing, so the
count reveals nothing to a guesser. The answer's count includes the check being answered.

Recording is one INSERT (one per item of a batch) and one indexed count, committed on its own
after the answer is built: a database error there is logged and answered as an unknown count
(null), never as a failed verification. Concurrent checks each insert their own row, so none is
lost; under READ COMMITTED two of them may answer the same count, the stored total is exact.

The receipt's payer sees the count, the latest time and the names of the units that checked it
(GET /api/v1/me/receipts/{key}: `checks`); no other checker's identity is kept.
"""
import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from backend.common.models import as_utc, utcnow
from backend.extensions import db
from backend.units.models import Unit
from backend.verification.models import CHANNELS, DATA_FILE, ELEMENTS, LAYOUT, QR_PAGE, UNIT, ReceiptCheck

__all__ = ["CHANNELS", "DATA_FILE", "ELEMENTS", "LAYOUT", "QR_PAGE", "UNIT", "answer_fields", "record_check", "record_checks",
           "summary"]
log = logging.getLogger(__name__)


def record_check(receipt_id: int, channel: str, unit=None) -> tuple[int | None, datetime | None]:
    """Records one check of the receipt and commits; answers (check count, last checked at),
    this check included, or (None, None) when it could not be recorded. `unit`: the Unit that
    checked (channel `unit`), else None."""
    return record_checks([receipt_id], channel, unit).get(receipt_id, (None, None))


def record_checks(receipt_ids: Iterable[int], channel: str, unit=None) -> dict[int, tuple[int, datetime]]:
    """A check per id (an id given twice is checked twice), one commit; {receipt id: (count,
    last checked at)}; {} when they could not be recorded."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown check channel {channel!r}")
    ids = list(receipt_ids)
    if not ids:
        return {}
    now = utcnow()
    unit_id = unit.id if unit is not None else None
    try:
        db.session.execute(insert(ReceiptCheck), [{"receipt_id": rid, "channel": channel, "unit_id": unit_id, "checked_at": now}
                                                  for rid in ids])
        counted = db.session.execute(
            select(ReceiptCheck.receipt_id, func.count(), func.max(ReceiptCheck.checked_at))
            .where(ReceiptCheck.receipt_id.in_(set(ids))).group_by(ReceiptCheck.receipt_id)).all()
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("receipt checks not recorded", extra={"channel": channel, "receipts": len(ids)})
        return {}
    return {rid: (count, as_utc(last)) for rid, count, last in counted}


def answer_fields(counted: tuple[int | None, datetime | None]) -> dict:
    """`check_count` and `last_checked_at` of a verification answer."""
    count, last = counted
    return {"check_count": count, "last_checked_at": last.isoformat() if last is not None else None}


def summary(receipt_id: int) -> dict:
    """What the receipt's payer sees: count, latest, per channel, and per unit its name only."""
    rows = db.session.execute(
        select(ReceiptCheck.channel, ReceiptCheck.unit_id, func.count(), func.max(ReceiptCheck.checked_at))
        .where(ReceiptCheck.receipt_id == receipt_id).group_by(ReceiptCheck.channel, ReceiptCheck.unit_id)).all()
    by_channel = {channel: 0 for channel in CHANNELS}
    per_unit: dict[str, list] = {}
    latest = None
    for channel, unit_id, count, last in rows:
        last = as_utc(last)
        by_channel[channel] += count
        latest = last if latest is None or last > latest else latest
        if unit_id is not None:
            seen = per_unit.setdefault(unit_id, [0, last])
            seen[0] += count
            seen[1] = max(seen[1], last)
    names = dict(db.session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(per_unit))).all()) if per_unit else {}
    units = [{"name": names.get(unit_id, "报销单位"), "count": count, "last_checked_at": last.isoformat()}
             for unit_id, (count, last) in sorted(per_unit.items(), key=lambda item: item[1][1], reverse=True)]
    return {"count": sum(by_channel.values()), "last_checked_at": latest.isoformat() if latest is not None else None,
            "by_channel": by_channel, "units": units}
