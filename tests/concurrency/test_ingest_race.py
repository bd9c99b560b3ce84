"""Real threads against PostgreSQL: the same receipt pushed 20 times at once."""
import json
import threading

import pytest
from sqlalchemy import func, select

from backend.extensions import db
from backend.receipts.models import InboundWebhook, Receipt, TimelineEntry
from tests.conftest import postgres_only

pytestmark = postgres_only()


def _race(app, hospital, bodies_and_ids):
    barrier = threading.Barrier(len(bodies_and_ids))
    results = [None] * len(bodies_and_ids)

    def worker(i, body, webhook_id):
        client = app.test_client()
        headers = hospital.headers(body, webhook_id=webhook_id)
        barrier.wait()
        resp = client.post(hospital.url, data=body.encode(), headers=headers)
        results[i] = (resp.status_code, resp.get_json())

    threads = [threading.Thread(target=worker, args=(i, b, w)) for i, (b, w) in enumerate(bodies_and_ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("same_webhook_id", [True, False], ids=["retries", "distinct-deliveries"])
def test_same_receipt_from_20_threads_is_stored_once(app, operator, same_webhook_id):
    hospital = operator.register_hospital()
    data = hospital.sign(hospital.receipt())
    body = json.dumps({"type": "receipt.issued", "data": data}, ensure_ascii=False)
    deliveries = [(body, "msg_race" if same_webhook_id else f"msg_race_{i}") for i in range(20)]
    results = _race(app, hospital, deliveries)
    assert all(status == 202 for status, _ in results), results
    outcomes = [r["result"] for _, r in results]
    if same_webhook_id:
        # Retries of one delivery all get the stored answer of the one that was applied.
        assert outcomes == ["applied"] * 20
    else:
        assert sorted(outcomes) == ["applied"] + ["unchanged"] * 19
    assert {r["key"] for _, r in results} == {f"{data['code']}-{data['number']}"}
    db.session.expire_all()
    assert _count(Receipt) == 1
    assert _count(TimelineEntry) == 1
    assert _count(InboundWebhook) == (1 if same_webhook_id else 20)


def test_conflicting_versions_from_threads_store_exactly_one(app, operator):
    hospital = operator.register_hospital()
    base = hospital.receipt()
    versions = [hospital.sign({**base, "clerk": f"开票员{i}"}) for i in range(10)]
    deliveries = [(json.dumps({"type": "receipt.issued", "data": v}, ensure_ascii=False), f"msg_v{i}") for i, v in enumerate(versions)]
    results = _race(app, hospital, deliveries)
    statuses = sorted(status for status, _ in results)
    assert statuses == [202] + [409] * 9, results
    assert all(r["code"] == "receipt_conflict" for s, r in results if s == 409)
    db.session.expire_all()
    assert _count(Receipt) == 1 and _count(TimelineEntry) == 1


def test_concurrent_void_and_exchange_apply_exactly_one(app, operator):
    hospital = operator.register_hospital()
    resp, sent = hospital.issue()
    ref = {"code": sent["code"], "number": sent["number"]}
    bodies = []
    for i in range(10):
        if i % 2:
            payload = {"type": "receipt.voided", "data": {**ref, "reason": "重复开具"}}
        else:
            payload = {"type": "receipt.paper_exchanged", "data": {**ref, "paper_receipt": {"code": "46010125", "number": "0000000001"}}}
        bodies.append((json.dumps(payload, ensure_ascii=False), f"msg_lc_{i}"))
    results = _race(app, hospital, bodies)
    applied = [r for s, r in results if s == 202 and r["result"] == "applied"]
    assert len(applied) == 1, results
    winner = applied[0]["type"]
    # The winner's duplicates are no-ops; the other transition is refused.
    for status, body in results:
        if status == 202:
            assert body["type"] == winner
        else:
            assert status == 409 and body["code"] == "invalid_lifecycle_transition"
    db.session.expire_all()
    assert _count(TimelineEntry) == 2
