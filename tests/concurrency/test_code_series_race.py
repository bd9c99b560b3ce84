"""Real threads on PostgreSQL: overlapping code series allocated at the same moment — one wins."""
from sqlalchemy import func, select

from backend.extensions import db
from backend.issuers.models import IssuerCodeSeries
from tests.concurrency.test_reimbursement_races import race
from tests.conftest import postgres_only

pytestmark = postgres_only()


def test_ten_simultaneous_overlapping_allocations_give_one(app, client, operator):
    hospitals = [operator.register_hospital(name=f"医院{i}", credit_code=f"1246010042820{i:04d}Y") for i in range(10)]

    def allocate(hospital, i):
        return lambda c: c.post(f"/api/v1/admin/issuers/{hospital.issuer_id}/code-series", headers=operator.headers,
                                json={"code": "46060125", "number_from": f"{i * 10:010d}", "number_to": f"{i * 10 + 500:010d}"})

    results = race(app, [allocate(h, i) for i, h in enumerate(hospitals)])
    assert sorted(s for s, _ in results) == [201] + [409] * 9, results
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(IssuerCodeSeries)) == 1
