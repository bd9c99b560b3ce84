"""Two units booking one receipt at the same instant on PostgreSQL: exactly one entry."""
import threading

from sqlalchemy import func, select

from backend.extensions import db
from backend.reimbursements.models import Booking
from tests.conftest import postgres_only
from tests.support import ZHANG_SAN_ID, UnitClient, receipt_key

pytestmark = postgres_only()


def test_concurrent_bookings_of_one_receipt_make_exactly_one(app, client, operator):
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
    assert sorted(statuses) == [201] + [409] * (len(units) * 2 - 1), statuses
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1
