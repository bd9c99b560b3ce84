"""Bulk ingest for backfills (issue 13): a receipt.batch of up to 500 sealed receipts under
one Standard Webhooks signature, answered item by item, idempotent per receipt and per batch."""
import json

from sqlalchemy import func, select

from backend.events.models import OutboxEvent
from backend.extensions import db
from backend.receipts.models import Receipt
from tests.support import LI_SI_ID, ZHANG_SAN_ID, citizen_login


def _batch(hospital, receipts, **kwargs):
    return hospital.push("receipt.batch", {"receipts": receipts}, **kwargs)


def test_a_batch_is_accepted_item_by_item(client, operator):
    hospital = operator.register_hospital()
    good = [hospital.sign(hospital.receipt(payer_id=ZHANG_SAN_ID if i % 2 else LI_SI_ID)) for i in range(6)]
    unsigned = hospital.receipt()  # no seal
    forged = {**hospital.sign(hospital.receipt()), "total_amount": "999.99"}  # changed after sealing
    broken = {"code": "bad"}
    resp = _batch(hospital, [*good, unsigned, forged, broken, good[0]])
    assert resp.status_code == 202, resp.json
    body = resp.json
    assert (body["applied"], body["unchanged"], body["refused"]) == (6, 0, 4)
    results = [(item["index"], item["result"]) for item in body["results"]]
    assert results[:6] == [(i, "applied") for i in range(6)]
    assert [r for _, r in results[6:]] == ["refused"] * 4
    codes = {item["index"]: item["code"] for item in body["results"] if item["result"] == "refused"}
    assert codes[8] == "validation_failed" and codes[9] == "duplicate_in_batch"
    assert db.session.scalar(select(func.count()).select_from(Receipt)) == 6
    assert db.session.scalar(select(func.count()).select_from(OutboxEvent)) == 6  # one event per receipt
    keys = {f"{r['code']}-{r['number']}" for r in good}
    headers = citizen_login(client)
    zhang = {r["key"] for r in client.get("/api/v1/me/receipts", headers=headers).json["items"]}
    assert zhang and zhang <= keys
    inbox = {n["receipt_key"] for n in client.get("/api/v1/me/notifications", headers=headers).json["items"]}
    assert inbox == zhang  # every receipt of the batch was delivered to its citizen's inbox


def test_batches_are_idempotent_per_batch_and_per_receipt(client, operator):
    hospital = operator.register_hospital()
    receipts = [hospital.sign(hospital.receipt()) for _ in range(3)]
    first = _batch(hospital, receipts, webhook_id="msg_batch_1")
    again = _batch(hospital, receipts, webhook_id="msg_batch_1")
    assert again.status_code == 202 and again.json == first.json  # the same delivery, answered as before
    more = [*receipts, hospital.sign(hospital.receipt())]
    overlap = _batch(hospital, more, webhook_id="msg_batch_2")
    assert [item["result"] for item in overlap.json["results"]] == ["unchanged"] * 3 + ["applied"]
    changed = {**receipts[0], "clerk": "别人"}
    conflict = _batch(hospital, [hospital.sign(changed)], webhook_id="msg_batch_3").json["results"][0]
    assert conflict["result"] == "refused" and conflict["code"] == "receipt_conflict"
    assert db.session.scalar(select(func.count()).select_from(Receipt)) == 4


def test_batch_limits(client, operator):
    hospital = operator.register_hospital()
    template = hospital.sign(hospital.receipt())
    assert _batch(hospital, []).status_code == 422
    too_many = [template] * 501
    assert _batch(hospital, too_many).status_code in (413, 422)
    assert hospital.post_raw(json.dumps({"type": "receipt.batch", "data": {"receipts": [template], "extra": 1}})).status_code == 422
