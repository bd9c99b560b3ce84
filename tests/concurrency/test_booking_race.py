"""Units booking one receipt at the same instant on PostgreSQL, each twice: each unit's
reimbursement is booked exactly once, and the bookings never exceed the total."""
import threading

from sqlalchemy import func, select

from backend.extensions import db
from backend.reimbursements.models import Booking
from tests.conftest import postgres_only
from tests.support import ZHANG_SAN_ID, UnitClient, receipt_key

pytestmark = postgres_only()


def test_concurrent_bookings_book_each_reimbursement_exactly_once(app, client, operator):
    units = [UnitClient.open(operator) for _ in range(4)]
    _, sent = operator.register_hospital().issue(payer_id=ZHANG_SAN_ID)
    key = receipt_key(sent)
    for unit in units:  # each reimburses a part, so each may book
        lock = unit.lock_with_proof(sent).json
        assert unit.feedback(key, lock["lock_token"], amount="50.00").status_code == 201
    statuses, barrier = [], threading.Barrier(len(units) * 2)

    def book(unit, n):
        with app.app_context():
            barrier.wait()
            resp = unit.post(f"/receipts/{key}/booking", json={"voucher_no": f"V-{n}", "booked_at": "2025-11-25T10:00:00+08:00", "amount": "50.00"},
                             client=app.test_client())
            statuses.append(resp.status_code)

    threads = [threading.Thread(target=book, args=(unit, n)) for n, unit in enumerate(units * 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(statuses) == [201] * len(units) + [409] * len(units), statuses
    db.session.rollback()
    assert db.session.scalar(select(func.count(func.distinct(Booking.unit_id)))) == len(units)
    assert db.session.scalar(select(func.count(func.distinct(Booking.ledger_entry_id)))) == len(units)
    assert db.session.scalar(select(func.sum(Booking.amount_fen))) == 50_00 * len(units)


def test_concurrent_bookings_of_lock_holders_never_exceed_the_total(app, client, operator):
    """One unit reimbursed 300.00 and books it while a second, holding the lock on the
    remaining 56.80, books 100.00 at the same instant: one of them is refused, whichever
    came second, and the total is never exceeded."""
    social, insurer = UnitClient.open(operator), UnitClient.open(operator, kind="commercial_insurer")
    _, sent = operator.register_hospital().issue(payer_id=ZHANG_SAN_ID)
    key = receipt_key(sent)
    lock = social.lock_with_proof(sent).json
    assert social.feedback(key, lock["lock_token"], amount="300.00").status_code == 201
    assert insurer.lock_with_proof(sent).status_code == 201
    barrier, statuses = threading.Barrier(2), []

    def book(unit, amount):
        with app.app_context():
            barrier.wait()
            statuses.append(unit.post(f"/receipts/{key}/booking", json={"voucher_no": "V", "booked_at": "2025-11-25T10:00:00+08:00",
                                                                       "amount": amount}, client=app.test_client()).status_code)

    threads = [threading.Thread(target=book, args=(social, "300.00")), threading.Thread(target=book, args=(insurer, "100.00"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    db.session.rollback()
    assert db.session.scalar(select(func.sum(Booking.amount_fen))) <= 356_80
    assert sorted(statuses) == [201, 409], statuses
