"""The issuer webhook (DESIGN §5/§5a): every good path and every bad input of issue 2."""
import json
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from backend.extensions import db
from backend.receipts.models import InboundWebhook, Receipt, TimelineEntry
from tests.support import sign_es256


@pytest.fixture()
def hospital(operator):
    return operator.register_hospital()


def counts():
    return tuple(
        db.session.scalar(select(func.count()).select_from(model)) for model in (Receipt, TimelineEntry, InboundWebhook)
    )


def assert_problem(resp, status, code):
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body = resp.json
    assert body["status"] == status and body["code"] == code and body["title"] and body["type"].endswith(code)
    return body


def test_issued_receipt_is_stored_with_supervision_signature_and_timeline(hospital, client):
    resp, sent = hospital.issue()
    assert resp.status_code == 202
    assert resp.json == {"key": f"{sent['code']}-{sent['number']}", "type": "receipt.issued", "result": "applied"}
    receipt = db.session.scalar(select(Receipt))
    assert receipt.total_fen == 35680 and receipt.lifecycle == "issued" and receipt.province == "46"
    assert "id_number" not in receipt.elements["payer"]
    assert sent["payer"]["id_number"].encode() not in bytes(receipt.payer_id_enc)
    entries = db.session.scalars(select(TimelineEntry)).all()
    assert [(e.event, e.actor_type, e.actor_id) for e in entries] == [("receipt.issued", "issuer", hospital.issuer_id)]
    # The supervision signature verifies with the node's published JWKS.
    import jwt
    from backend.receipts.signing import verify_es256, canonical_bytes  # noqa: F401
    import rfc8785

    jwks = client.get("/api/v1/platform/jwks.json").json
    key = jwt.PyJWK(jwks["keys"][0]).key
    signed = {**sent, "supervision_signature": receipt.platform_signature}
    message = rfc8785.dumps({k: v for k, v in signed.items() if k != "supervision_signature"})
    assert receipt.platform_signature["kid"] == jwks["keys"][0]["kid"]
    assert verify_es256(key, message, receipt.platform_signature["value"])


def test_same_receipt_same_content_is_a_no_op(hospital):
    _, sent = hospital.issue()
    again = hospital.push("receipt.issued", sent)  # a new webhook-id, same content
    assert again.status_code == 202 and again.json["result"] == "unchanged"
    assert counts()[:2] == (1, 1)


def test_same_receipt_resigned_is_a_no_op(hospital):
    _, sent = hospital.issue()
    resigned = hospital.sign(sent)  # ECDSA signatures differ each time; the content is the same
    assert resigned["signature"] != sent["signature"]
    assert hospital.push("receipt.issued", resigned).json["result"] == "unchanged"


def test_same_receipt_other_content_is_409(hospital):
    _, sent = hospital.issue()
    changed = hospital.sign({**sent, "clerk": "赵敏"})
    before = counts()
    assert_problem(hospital.push("receipt.issued", changed), 409, "receipt_conflict")
    assert counts() == before


def test_replayed_webhook_id_is_answered_not_applied(hospital):
    data = hospital.sign(hospital.receipt())
    body = json.dumps({"type": "receipt.issued", "data": data})
    first = hospital.post_raw(body, webhook_id="msg_replay_1")
    second = hospital.post_raw(body, webhook_id="msg_replay_1")
    assert first.status_code == second.status_code == 202
    assert first.json == second.json
    assert counts() == (1, 1, 1)


def test_replay_after_the_receipt_changed_is_answered_as_first_time(hospital):
    """A hospital retrying an old delivery gets the answer it missed, even when applying it
    now would fail (the receipt was voided since) and nothing changes."""
    data = hospital.sign(hospital.receipt())
    body = json.dumps({"type": "receipt.issued", "data": data})
    first = hospital.post_raw(body, webhook_id="msg_retry_1")
    void = {"code": data["code"], "number": data["number"], "reason": "重复开具"}
    assert hospital.push("receipt.voided", void, webhook_id="msg_void_1").status_code == 202
    assert hospital.push("receipt.paper_exchanged", {"code": data["code"], "number": data["number"],
                                                     "paper_receipt": {"code": "46010125", "number": "0000000001"}}).status_code == 409
    before = counts()
    again = hospital.post_raw(body, webhook_id="msg_retry_1")
    assert again.status_code == 202 and again.json == first.json
    void_again = hospital.push("receipt.voided", void, webhook_id="msg_void_1")
    assert void_again.status_code == 202 and void_again.json["result"] == "applied"
    assert counts() == before
    assert db.session.scalar(select(Receipt)).lifecycle == "voided"


def test_replay_answered_even_when_applying_it_now_would_be_refused(hospital):
    """The hospital's key was replaced since (no overlap): the retried delivery would now
    fail its seal check, yet it was accepted once, so it gets that answer."""
    from cryptography.hazmat.primitives import serialization

    from backend.issuers.services import add_public_key

    data = hospital.sign(hospital.receipt())
    body = json.dumps({"type": "receipt.issued", "data": data})
    first = hospital.post_raw(body, webhook_id="msg_before_rotation")
    add_public_key(hospital.issuer_id, ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(), overlap_hours=0)
    before = counts()
    again = hospital.post_raw(body, webhook_id="msg_before_rotation")
    assert again.status_code == 202 and again.json == first.json
    assert_problem(hospital.post_raw(body, webhook_id="msg_after_rotation"), 422, "invalid_receipt_signature")
    assert counts() == before


def test_refused_delivery_then_corrected_with_the_same_webhook_id(hospital):
    """A refusal stores nothing, so the hospital may fix the body and resend it under the same id."""
    data = hospital.receipt()
    bad = hospital.push("receipt.issued", {**hospital.sign(data), "total_amount": "1.00"}, webhook_id="msg_fix_1")
    assert bad.status_code == 422
    assert counts() == (0, 0, 0)
    good = hospital.push("receipt.issued", hospital.sign(data), webhook_id="msg_fix_1")
    assert good.status_code == 202 and good.json["result"] == "applied"
    assert counts() == (1, 1, 1)


def test_replayed_webhook_id_with_other_body_is_409(hospital):
    hospital.issue(webhook_id="msg_same")
    before = counts()
    resp, _ = hospital.issue(webhook_id="msg_same")
    assert_problem(resp, 409, "webhook_id_reused")
    assert counts() == before


@pytest.mark.parametrize("mutate,code", [
    (lambda h: {k: v for k, v in h.items() if k != "webhook-signature"}, "missing_signature_headers"),
    (lambda h: {**h, "webhook-timestamp": "yesterday"}, "invalid_timestamp"),
    (lambda h: {**h, "webhook-signature": "v1,AAAA"}, "invalid_signature"),
    (lambda h: {**h, "webhook-signature": "garbage"}, "invalid_signature"),
])
def test_bad_signature_headers_are_401(hospital, client, mutate, code):
    body = json.dumps({"type": "receipt.issued", "data": hospital.sign(hospital.receipt())})
    headers = mutate(hospital.headers(body))
    assert_problem(client.post(hospital.url, data=body, headers=headers), 401, code)
    assert counts() == (0, 0, 0)


def test_tampered_body_is_401(hospital, client):
    body = json.dumps({"type": "receipt.issued", "data": hospital.sign(hospital.receipt())})
    headers = hospital.headers(body)
    tampered = body.replace("356.80", "956.80")
    assert_problem(client.post(hospital.url, data=tampered, headers=headers), 401, "invalid_signature")
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize("delta", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_stale_or_future_timestamp_is_401(hospital, delta):
    resp, _ = hospital.issue(timestamp=datetime.now(timezone.utc) + delta)
    assert_problem(resp, 401, "stale_timestamp")
    assert counts() == (0, 0, 0)


def test_wrong_secret_is_401(hospital):
    resp, _ = hospital.issue(secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3OA==")
    assert_problem(resp, 401, "invalid_signature")


def test_several_signatures_are_accepted_for_rotation(hospital, client, operator):
    rotated = client.post(f"/api/v1/admin/issuers/{hospital.issuer_id}/webhook-secret/rotate", headers=operator.headers)
    assert rotated.status_code == 201
    new_secret = rotated.json["webhook_secret"]
    body = json.dumps({"type": "receipt.issued", "data": hospital.sign(hospital.receipt())})
    headers = hospital.headers(body, webhook_id="msg_rot")
    other = hospital.headers(body, webhook_id="msg_rot", secret=new_secret)
    headers["webhook-signature"] = "v1,bm9wZQ== " + other["webhook-signature"]
    assert client.post(hospital.url, data=body, headers=headers).status_code == 202
    # The old secret stays valid during the grace period.
    assert hospital.issue()[0].status_code == 202


def test_forged_issuer_signature_is_422(hospital):
    forger = ec.generate_private_key(ec.SECP256R1())
    forged = sign_es256(forger, hospital.receipt())
    assert_problem(hospital.push("receipt.issued", forged), 422, "invalid_receipt_signature")
    assert counts() == (0, 0, 0)


def test_missing_issuer_signature_is_422(hospital):
    resp, _ = hospital.issue(sign=False)
    body = assert_problem(resp, 422, "validation_failed")
    assert "signature" in body["errors"]["data"] if "data" in body["errors"] else "signature" in body["errors"]


def test_malformed_json_is_400(hospital):
    assert_problem(hospital.post_raw('{"type": "receipt.issued", "data": {'), 400, "malformed_json")
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize("change,field", [
    ({"total_amount": 356.8}, "total_amount"),
    ({"number": 12345}, "number"),
    ({"issue_date": "20/11/2025"}, "issue_date"),
    ({"code": "4606012"}, "code"),
    ({"check_code": "7Kq9Z!"}, "check_code"),
    ({"kind": "dental"}, "kind"),
    ({"items": []}, "items"),
    ({"unexpected": "x"}, "unexpected"),
    ({"total_amount": "-356.80"}, "total_amount"),
    ({"total_amount": "356.8"}, "total_amount"),
])
def test_wrong_types_and_unknown_fields_are_422(hospital, change, field):
    data = hospital.sign({**hospital.receipt(), **change})
    body = assert_problem(hospital.push("receipt.issued", data), 422, "validation_failed")
    assert field in body["errors"]
    assert counts() == (0, 0, 0)


def test_unknown_nested_field_is_refused(hospital):
    data = hospital.receipt()
    data["payer"]["nickname"] = "三儿"
    body = assert_problem(hospital.push("receipt.issued", hospital.sign(data)), 422, "validation_failed")
    assert "nickname" in body["errors"]["payer"]


@pytest.mark.parametrize("change,violation", [
    ({"total_amount": "400.00"}, "split_mismatch"),
    ({"payments": {"fund_paid": "200.00", "account_paid": "50.00", "cash_paid": "106.80", "other_paid": "0.00",
                   "self_pay": "150.00", "self_expense": "20.00"}}, "personal_share_exceeds_payment"),
    ({"total_amount": "99999999.00"}, "absurd_amount"),
    ({"code": "44060125"}, "wrong_province"),
    ({"code": "46070125"}, "unsupported_class"),
    ({"issue_date": "2099-01-01", "issued_at": "2099-01-01T10:00:00+08:00", "code": "46060199"}, "date_in_future"),
    ({"issued_at": "2025-11-21T10:15:00+08:00"}, "date_mismatch"),
    ({"issuer": {"name": "三亚中心医院", "credit_code": "12460200428209999X"}}, "issuer_mismatch"),
])
def test_business_rule_violations_are_422(hospital, change, violation):
    data = hospital.sign({**hospital.receipt(), **change})
    body = assert_problem(hospital.push("receipt.issued", data), 422, "receipt_rules_violated")
    assert violation in {e["code"] for e in body["errors"]}
    assert counts() == (0, 0, 0)


def test_items_not_adding_up_are_422(hospital):
    data = hospital.receipt()
    data["items"][0] = {**data["items"][0], "amount": "150.00", "rate": "150.00"}
    body = assert_problem(hospital.push("receipt.issued", hospital.sign(data)), 422, "receipt_rules_violated")
    assert "items_mismatch" in {e["code"] for e in body["errors"]}


def test_item_amount_must_be_quantity_times_rate(hospital):
    data = hospital.receipt()
    data["items"][2] = {**data["items"][2], "quantity": "3"}
    body = assert_problem(hospital.push("receipt.issued", hospital.sign(data)), 422, "receipt_rules_violated")
    assert {"field": "items[2].amount", "code": "item_mismatch"}.items() <= body["errors"][0].items()


def test_inpatient_receipt_needs_admission_and_discharge(hospital):
    data = hospital.receipt(kind="inpatient", title="海南省医疗住院收费票据（电子）")
    data["visit"] = {"visit_type": "inpatient", "admission_date": "2025-11-10", "discharge_date": "2025-11-19",
                     "inpatient_no": "ZY2025110001", "department": "骨科"}
    assert hospital.push("receipt.issued", hospital.sign(data)).status_code == 202
    data = hospital.receipt(kind="inpatient")
    data["visit"] = {"visit_type": "inpatient", "admission_date": "2025-11-19", "discharge_date": "2025-11-10"}
    body = assert_problem(hospital.push("receipt.issued", hospital.sign(data)), 422, "receipt_rules_violated")
    assert {"required", "date_order"} <= {e["code"] for e in body["errors"]}


def test_unknown_issuer_is_404(client, hospital):
    body = json.dumps({"type": "receipt.issued", "data": {}})
    resp = client.post("/api/v1/issuers/00000000-0000-0000-0000-000000000000/webhook", data=body, headers=hospital.headers(body))
    assert_problem(resp, 404, "issuer_not_found")


def test_disabled_issuer_is_403(client, operator, hospital):
    assert client.post(f"/api/v1/admin/issuers/{hospital.issuer_id}/disable", headers=operator.headers).status_code == 200
    resp, _ = hospital.issue()
    assert_problem(resp, 403, "issuer_disabled")
    assert counts() == (0, 0, 0)


def test_issuer_of_another_province_is_refused(operator):
    guangdong = operator.register_hospital(name="广东省人民医院", credit_code="12440000455858080B", province="44")
    data = guangdong.sign(guangdong.receipt(code="44060125"))
    assert_problem(guangdong.push("receipt.issued", data), 422, "wrong_province")


def test_oversized_body_is_413(hospital, app):
    data = hospital.receipt()
    data["remark"] = "x" * 400
    data["detail_items"] = [{"name": "y" * 100, "quantity": "1", "rate": "1.00", "amount": "1.00", "remark": "z" * 200}] * 6000
    resp = hospital.push("receipt.issued", data)  # over WEBHOOK_MAX_BODY_BYTES (2 MiB): refused before anything is read
    assert_problem(resp, 413, "payload_too_large")
    assert counts() == (0, 0, 0)


def test_unknown_event_type_is_422(hospital):
    body = assert_problem(hospital.push("receipt.printed", {"code": "46060125"}), 422, "validation_failed")
    assert "type" in body["errors"]


# --- lifecycle events -------------------------------------------------------------

def _ref(sent):
    return {"code": sent["code"], "number": sent["number"]}


def test_red_reversal_is_applied_once_with_timeline(hospital, client):
    _, sent = hospital.issue()
    red = {**_ref(sent), "reason": "收费项目有误", "red_receipt": {"code": "46060125", "number": "0000099999", "check_code": "Ab12Cd"}}
    resp = hospital.push("receipt.red_reversed", red)
    assert resp.status_code == 202 and resp.json["result"] == "applied"
    assert hospital.push("receipt.red_reversed", red).json["result"] == "unchanged"
    receipt = db.session.scalar(select(Receipt))
    assert receipt.lifecycle == "red_reversed"
    assert receipt.lifecycle_detail["red_receipt"]["number"] == "0000099999"
    events = [e.event for e in db.session.scalars(select(TimelineEntry).order_by(TimelineEntry.id))]
    assert events == ["receipt.issued", "receipt.red_reversed"]
    reasons = [e.reason for e in db.session.scalars(select(TimelineEntry).order_by(TimelineEntry.id))]
    assert reasons[1] == "收费项目有误"


def test_paper_exchange_and_void(hospital):
    _, first = hospital.issue()
    _, second = hospital.issue()
    assert hospital.push("receipt.paper_exchanged", {**_ref(first), "paper_receipt": {"code": "46010125", "number": "0000000001"}}).status_code == 202
    assert hospital.push("receipt.voided", {**_ref(second), "reason": "重复开具"}).status_code == 202
    lifecycles = {r.number: r.lifecycle for r in db.session.scalars(select(Receipt))}
    assert lifecycles == {first["number"]: "paper_exchanged", second["number"]: "voided"}


def test_second_lifecycle_change_is_409(hospital):
    _, sent = hospital.issue()
    hospital.push("receipt.voided", {**_ref(sent), "reason": "重复开具"})
    before = counts()
    resp = hospital.push("receipt.paper_exchanged", {**_ref(sent), "paper_receipt": {"code": "46010125", "number": "0000000001"}})
    assert_problem(resp, 409, "invalid_lifecycle_transition")
    assert counts() == before


def test_lifecycle_event_for_unknown_or_foreign_receipt_is_404(hospital, operator):
    other = operator.register_hospital(name="广东省中医院海南医院", credit_code="12460000MB1234567Y")
    _, sent = other.issue()
    assert_problem(hospital.push("receipt.voided", {**_ref(sent), "reason": "x"}), 404, "receipt_not_found")
    assert_problem(hospital.push("receipt.voided", {"code": "46060125", "number": "0000000000", "reason": "x"}), 404, "receipt_not_found")


def test_locked_receipt_cannot_be_reversed_exchanged_or_voided(hospital):
    from backend.common.models import utcnow

    _, sent = hospital.issue()
    receipt = db.session.scalar(select(Receipt))
    receipt.lock_unit_id, receipt.locked_at = "unit-1", utcnow()
    receipt.lock_expires_at = utcnow() + timedelta(days=7)
    db.session.commit()
    before = counts()
    for event_type, data in [
        ("receipt.red_reversed", {**_ref(sent), "reason": "x", "red_receipt": {"code": "46060125", "number": "0000099999", "check_code": "Ab12Cd"}}),
        ("receipt.paper_exchanged", {**_ref(sent), "paper_receipt": {"code": "46010125", "number": "0000000001"}}),
        ("receipt.voided", {**_ref(sent), "reason": "x"}),
    ]:
        body = assert_problem(hospital.push(event_type, data), 409, "receipt_locked")
        assert "locked" in body["detail"]
    assert counts() == before
    # An expired lease no longer blocks.
    receipt.lock_expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert hospital.push("receipt.voided", {**_ref(sent), "reason": "x"}).status_code == 202


def test_reimbursed_receipt_cannot_be_exchanged_for_paper(hospital):
    _, sent = hospital.issue()
    receipt = db.session.scalar(select(Receipt))
    receipt.reimbursed_fen = 100
    db.session.commit()
    resp = hospital.push("receipt.paper_exchanged", {**_ref(sent), "paper_receipt": {"code": "46010125", "number": "0000000001"}})
    assert_problem(resp, 409, "receipt_reimbursed")
