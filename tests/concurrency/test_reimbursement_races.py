"""Real threads against PostgreSQL: locks and feedback never double-lock or over-reimburse."""
import threading

from sqlalchemy import func, select

from backend.extensions import db
from backend.receipts.models import Receipt, TimelineEntry
from backend.reimbursements.models import LedgerEntry, Lock
from tests.conftest import postgres_only
from tests.support import UnitClient, receipt_key

pytestmark = postgres_only()


def race(app, calls):
    """Runs each call(client) in its own thread, released together; returns the responses."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        client = app.test_client()
        barrier.wait()
        resp = call(client)
        results[i] = (resp.status_code, resp.get_json())

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(r is not None for r in results), "a thread did not finish"
    return results


def test_30_lock_attempts_from_10_units_give_exactly_one_lock(app, operator):
    _, sent = operator.register_hospital().issue()
    units = [UnitClient.open(operator) for _ in range(10)]
    proof = {"check_code": sent["check_code"], "total_amount": sent["total_amount"]}
    key = receipt_key(sent)
    calls = [lambda c, u=units[i % 10]: u.lock(key, proof, client=c) for i in range(30)]
    results = race(app, calls)
    winners = [body for status, body in results if status == 201]
    assert len(winners) == 1, results
    assert all(status == 409 and body["code"] in {"receipt_locked", "already_locked"} for status, body in results if status != 201)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Lock)) == 1
    receipt = db.session.scalar(select(Receipt))
    assert receipt.lock_id == db.session.scalar(select(Lock.id))
    assert db.session.scalar(select(func.count()).select_from(TimelineEntry).where(TimelineEntry.event == "receipt.locked")) == 1


def test_20_concurrent_feedbacks_with_one_token_record_once(app, operator):
    _, sent = operator.register_hospital().issue()
    unit = UnitClient.open(operator)
    key = receipt_key(sent)
    token = unit.lock_with_proof(sent).json["lock_token"]
    calls = [lambda c: unit.post(f"/receipts/{key}/feedback", json={"lock_token": token, "outcome": "reimbursed", "amount": "300.00"}, client=c)
             for _ in range(20)]
    results = race(app, calls)
    assert sorted(s for s, _ in results) == [201] + [409] * 19, results
    db.session.expire_all()
    assert db.session.scalar(select(Receipt.reimbursed_fen)) == 30000
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 1


def test_units_racing_for_the_remainder_never_exceed_the_total(app, operator):
    """Many rounds of lock → feedback from several units, all at once: the ledger never
    passes the total, whatever the interleaving."""
    _, sent = operator.register_hospital().issue()
    units = [UnitClient.open(operator) for _ in range(6)]
    key = receipt_key(sent)
    proof = {"check_code": sent["check_code"], "total_amount": sent["total_amount"]}

    def claim(client, unit):
        outcome = None
        for _ in range(10):
            locked = unit.lock(key, proof, client=client)
            if locked.status_code != 201:
                outcome = locked
                continue
            token = locked.json["lock_token"]
            outcome = unit.post(f"/receipts/{key}/feedback", client=client,
                                json={"lock_token": token, "outcome": "reimbursed", "amount": "100.00"})
            if outcome.status_code == 409 and outcome.get_json()["code"] == "amount_exceeds_remaining":
                unit.post(f"/receipts/{key}/unlock", client=client, json={"lock_token": token, "reason": "剩余金额不足"})
        return outcome

    race(app, [lambda c, u=u: claim(c, u) for u in units])
    db.session.expire_all()
    receipt = db.session.scalar(select(Receipt))
    ledger_total = db.session.scalar(select(func.sum(LedgerEntry.amount_fen)))
    assert receipt.reimbursed_fen == ledger_total <= receipt.total_fen
    assert receipt.reimbursed_fen == 30000  # three 100.00 claims fit into 356.80, a fourth never does
    assert db.session.scalar(select(func.count()).select_from(Lock).where(Lock.ended_at.is_(None))) == 0


def test_concurrent_duplicates_of_one_idempotency_key_run_once(app, operator):
    _, sent = operator.register_hospital().issue()
    unit = UnitClient.open(operator)
    key = receipt_key(sent)
    proof = {"check_code": sent["check_code"], "total_amount": sent["total_amount"]}
    results = race(app, [lambda c: unit.lock(key, proof, idempotency_key="claim-7", client=c) for _ in range(10)])
    fresh = [b for s, b in results if s == 201]
    in_use = [b for s, b in results if s == 409]
    assert fresh and all(b == fresh[0] for b in fresh), results  # replays carry the same token
    assert all(b["code"] == "idempotency_key_in_use" for b in in_use), results
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Lock)) == 1
