"""Real threads on PostgreSQL: one approval wins; a revocation racing a lock never leaves a
receipt locked without an authorization."""
from sqlalchemy import func, select

from backend.authorizations.models import AuthorizedReceipt
from backend.extensions import db
from backend.receipts.models import Receipt
from tests.concurrency.test_reimbursement_races import race
from tests.conftest import postgres_only
from tests.support import ZHANG_SAN_ID, UnitClient, citizen_login, receipt_key

pytestmark = postgres_only()


def test_ten_simultaneous_approvals_of_one_request_give_one(app, client, operator):
    hospital = operator.register_hospital()
    unit = UnitClient.open(operator)
    zhang = citizen_login(client, "zhangsan")
    _, sent = hospital.issue(payer_id=ZHANG_SAN_ID)
    created = unit.post("/authorization-requests", json={"purpose": "医保零星报销"}).json
    client.post("/api/v1/me/scans", headers=zhang, json={"qr_text": created["qr_text"]})
    url = f"/api/v1/me/authorization-requests/{created['id']}/approve"
    results = race(app, [lambda c: c.post(url, headers=zhang, json={"receipt_keys": [receipt_key(sent)]}) for _ in range(10)])
    assert sorted(s for s, _ in results) == [200] + [410] * 9, results
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(AuthorizedReceipt)) == 1


def test_revocation_racing_a_lock(app, client, operator):
    hospital = operator.register_hospital()
    zhang = citizen_login(client, "zhangsan")
    for _ in range(8):
        unit = UnitClient.open(operator)
        _, sent = hospital.issue(payer_id=ZHANG_SAN_ID)
        created = unit.post("/authorization-requests", json={"purpose": "商业保险理赔"}).json
        client.post("/api/v1/me/scans", headers=zhang, json={"qr_text": created["qr_text"]})
        auth_id = client.post(f"/api/v1/me/authorization-requests/{created['id']}/approve", headers=zhang,
                              json={"receipt_keys": [receipt_key(sent)]}).json["id"]
        race(app, [
            lambda c: unit.lock(receipt_key(sent), client=c),
            lambda c: c.delete(f"/api/v1/me/authorizations/{auth_id}", headers=zhang),
        ])
        db.session.expire_all()
        receipt = db.session.scalar(select(Receipt).where(Receipt.number == sent["number"]))
        grant = db.session.scalar(select(AuthorizedReceipt).where(AuthorizedReceipt.receipt_id == receipt.id))
        # Either locked and still authorized, or unlocked and revoked; never locked without a grant.
        assert (receipt.lock_id is not None and grant.revoked_at is None) or (receipt.lock_id is None and grant.revoked_at is not None)
