"""Real answers validated against the OpenAPI document: what a unit, a citizen and the public
get is exactly what the spec says they get (masked fields included)."""
import pytest

from tests.openapi_answers import mismatches
from tests.support import UnitClient, citizen_login, receipt_key


@pytest.fixture()
def spec(client):
    return client.get("/api/v1/openapi.json").json


def test_unit_reads_match_the_spec_with_the_payer_masked(client, operator, spec):
    hospital = operator.register_hospital()
    _, sent = hospital.issue()
    key = receipt_key(sent)
    unit = UnitClient.open(operator)
    locked = unit.lock_with_proof(sent)
    answers = [("post", "/api/v1/unit/receipts/{key}/lock", locked),
               ("get", "/api/v1/unit/receipts", unit.get("/receipts")),
               ("get", "/api/v1/unit/receipts/{key}", unit.get(f"/receipts/{key}"))]
    detail = answers[-1][2].json
    assert detail["payer"]["id_number"] == "460***********1234"
    problems = [p for method, path, resp in answers for p in mismatches(spec, method, path, resp)]
    assert problems == []


def test_own_receipts_match_the_spec(client, operator, spec):
    unit = UnitClient.open(operator, kind="employer", credit_code="91460000MA5T000041")
    hospital = operator.register_hospital()
    data = hospital.receipt(payer_name="三亚市某公司")
    data["payer"] = {"name": "三亚市某公司", "id_type": "organization", "id_number": "91460000MA5T000041"}
    assert hospital.push("receipt.issued", hospital.sign(data)).status_code == 202
    own = unit.get("/own-receipts")
    assert own.json["items"][0]["payer"]["id_number"] == "914***********0041"
    assert mismatches(spec, "get", "/api/v1/unit/own-receipts", own) == []


def test_citizen_reads_match_the_spec(client, operator, spec):
    hospital = operator.register_hospital()
    _, sent = hospital.issue()
    me = citizen_login(client)
    answers = [("get", "/api/v1/me/receipts", client.get("/api/v1/me/receipts", headers=me)),
               ("get", "/api/v1/me/receipts/{key}", client.get(f"/api/v1/me/receipts/{receipt_key(sent)}", headers=me))]
    problems = [p for method, path, resp in answers for p in mismatches(spec, method, path, resp)]
    assert problems == []


def test_redeliver_answers_what_the_spec_says(app, client, operator, spec, monkeypatch):
    from sqlalchemy import select

    from backend.extensions import db
    from backend.notifications.models import UnitWebhookDelivery
    from tests.receiver import Receiver

    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_SCHEDULE", (0,))
    hospital = operator.register_hospital()
    _, sent = hospital.issue()
    unit = UnitClient.open(operator)
    with Receiver(statuses=(500, 200)) as receiver:
        assert client.put("/api/v1/unit/webhook", headers=unit.headers, json={"url": receiver.url}).status_code == 200
        unit.lock_with_proof(sent)
        delivery = db.session.scalar(select(UnitWebhookDelivery))
        listed = unit.get("/webhook/deliveries")
        redelivered = unit.post(f"/webhook/deliveries/{delivery.id}/redeliver")
    assert redelivered.status_code == 202 and redelivered.mimetype == "application/json"
    assert mismatches(spec, "get", "/api/v1/unit/webhook/deliveries", listed) == []
    assert mismatches(spec, "post", "/api/v1/unit/webhook/deliveries/{delivery_id}/redeliver", redelivered) == []
    missing = unit.post("/webhook/deliveries/nope/redeliver")
    assert missing.status_code == 404
    assert mismatches(spec, "post", "/api/v1/unit/webhook/deliveries/{delivery_id}/redeliver", missing) == []
