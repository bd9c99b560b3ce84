"""Interface mode (接口查验报销): lock by proof of possession, feedback, unlock, renew,
and the invariants of DESIGN §2 through the unit API."""
import time

import pytest
from sqlalchemy import func, select

from backend.extensions import db
from backend.receipts.models import Receipt, TimelineEntry
from backend.reimbursements.models import LedgerEntry, Lock, ReceiptAccess
from tests.support import UnitClient, receipt_key


@pytest.fixture()
def hospital(operator):
    return operator.register_hospital()


@pytest.fixture()
def centre(operator):
    return UnitClient.open(operator, name="三亚市医疗保障局")


@pytest.fixture()
def insurer(operator):
    return UnitClient.open(operator, name="中国人寿三亚分公司", kind="commercial_insurer")


@pytest.fixture()
def sent(hospital):
    resp, data = hospital.issue()
    assert resp.status_code == 202
    return data


def problem(resp, status, code):
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json" and resp.json["code"] == code
    return resp.json


def events():
    return [e.event for e in db.session.scalars(select(TimelineEntry).order_by(TimelineEntry.id))]


def test_lock_with_proof_then_reimburse_unlocks_and_appends_ledger(centre, sent):
    key = receipt_key(sent)
    locked = centre.lock_with_proof(sent)
    assert locked.status_code == 201
    assert locked.json["mode"] == "interface" and locked.json["lock_token"].startswith("lk_")
    fed = centre.feedback(key, locked.json["lock_token"], amount="200.00", reference="YB2025-001",
                          reimbursed_at="2025-11-25T09:00:00+08:00")
    assert fed.status_code == 201, fed.json
    assert fed.json["reimbursed_amount"] == "200.00" and fed.json["remaining_amount"] == "156.80"
    receipt = db.session.scalar(select(Receipt))
    assert receipt.reimbursed_fen == 20000 and receipt.lock_id is None
    entry = db.session.scalar(select(LedgerEntry))
    assert (entry.outcome, entry.amount_fen, entry.reference) == ("reimbursed", 20000, "YB2025-001")
    assert events() == ["receipt.issued", "receipt.locked", "receipt.reimbursed", "receipt.unlocked"]
    lock = db.session.scalar(select(Lock))
    assert lock.end_reason == "reimbursed" and lock.ended_at is not None


def test_a_second_unit_reimburses_the_remainder_but_never_beyond_the_total(centre, insurer, sent):
    key = receipt_key(sent)
    token = centre.lock_with_proof(sent).json["lock_token"]
    assert centre.feedback(key, token, amount="200.00").status_code == 201
    token2 = insurer.lock_with_proof(sent).json["lock_token"]
    body = problem(insurer.feedback(key, token2, amount="156.81"), 409, "amount_exceeds_remaining")
    assert body["remaining_amount"] == "156.80"
    assert insurer.feedback(key, token2, amount="156.80").status_code == 201
    receipt = db.session.scalar(select(Receipt))
    assert receipt.reimbursed_fen == receipt.total_fen == 35680
    problem(centre.lock_with_proof(sent), 409, "fully_reimbursed")


def test_only_one_unit_holds_the_lock(centre, insurer, sent):
    assert centre.lock_with_proof(sent).status_code == 201
    problem(insurer.lock_with_proof(sent), 409, "receipt_locked")
    problem(centre.lock_with_proof(sent), 409, "already_locked")
    assert db.session.scalar(select(func.count()).select_from(Lock)) == 1


@pytest.mark.parametrize("proof", [
    {"check_code": "WRONG1", "total_amount": "356.80"},
    {"check_code": "7Kq9Zx", "total_amount": "356.81"},
    {"check_code": "7kq9zx", "total_amount": "356.80"},
    {"check_code": "7Kq9Zx"},
])
def test_wrong_proof_answers_like_an_unknown_receipt(centre, sent, proof):
    key = receipt_key(sent)
    wrong = problem(centre.lock(key, proof), 404, "receipt_not_found")
    unknown = problem(centre.lock("46060125-0000000000", {"check_code": "7Kq9Zx", "total_amount": "356.80"}), 404, "receipt_not_found")
    assert wrong["title"] == unknown["title"]
    assert db.session.scalar(select(func.count()).select_from(Lock)) == 0


def test_without_authorization_or_proof_a_unit_gets_404(centre, sent):
    problem(centre.lock(receipt_key(sent)), 404, "receipt_not_found")
    problem(centre.get(f"/receipts/{receipt_key(sent)}"), 404, "receipt_not_found")


def test_locked_receipt_cannot_be_reversed_exchanged_or_voided_by_the_issuer(hospital, centre, sent):
    centre.lock_with_proof(sent)
    ref = {"code": sent["code"], "number": sent["number"]}
    for event_type, data in [
        ("receipt.red_reversed", {**ref, "reason": "错开", "red_receipt": {"code": sent["code"], "number": "0000099999", "check_code": "Ab12Cd"}}),
        ("receipt.paper_exchanged", {**ref, "paper_receipt": {"code": "46010125", "number": "0000000001"}}),
        ("receipt.voided", {**ref, "reason": "重复"}),
    ]:
        problem(hospital.push(event_type, data), 409, "receipt_locked")
    assert db.session.scalar(select(Receipt)).lifecycle == "issued"


def test_rejection_records_the_reason_and_unlocks(centre, insurer, sent):
    key = receipt_key(sent)
    token = centre.lock_with_proof(sent).json["lock_token"]
    problem(centre.feedback(key, token, outcome="rejected"), 422, "reason_required")
    problem(centre.feedback(key, token, outcome="rejected", amount="10.00", reason="x"), 422, "invalid_amount")
    resp = centre.feedback(key, token, outcome="rejected", reason="非医保目录内项目")
    assert resp.status_code == 201 and resp.json["amount"] == "0.00"
    entry = db.session.scalar(select(LedgerEntry))
    assert (entry.outcome, entry.reason, entry.amount_fen) == ("rejected", "非医保目录内项目", 0)
    assert events()[-2:] == ["receipt.reimbursement_rejected", "receipt.unlocked"]
    assert insurer.lock_with_proof(sent).status_code == 201


@pytest.mark.parametrize("amount,code", [("0.00", "invalid_amount"), ("-5.00", "validation_failed"), ("12.5", "validation_failed"), (12.5, "validation_failed")])
def test_bad_amounts_are_refused_and_keep_the_lock(centre, sent, amount, code):
    key = receipt_key(sent)
    token = centre.lock_with_proof(sent).json["lock_token"]
    problem(centre.feedback(key, token, amount=amount), 422, code)
    assert db.session.scalar(select(Receipt)).lock_id is not None
    assert centre.feedback(key, token, amount="1.00").status_code == 201


def test_missing_amount_for_reimbursement_is_422(centre, sent):
    token = centre.lock_with_proof(sent).json["lock_token"]
    problem(centre.feedback(receipt_key(sent), token), 422, "invalid_amount")


def test_second_feedback_on_the_same_lock_is_refused(centre, sent):
    key = receipt_key(sent)
    token = centre.lock_with_proof(sent).json["lock_token"]
    assert centre.feedback(key, token, amount="100.00").status_code == 201
    body = problem(centre.feedback(key, token, amount="100.00"), 409, "lock_ended")
    assert body["end_reason"] == "reimbursed"
    assert db.session.scalar(select(Receipt)).reimbursed_fen == 10000


def test_stale_token_after_unlock_and_foreign_token_are_refused(centre, insurer, sent):
    key = receipt_key(sent)
    old = centre.lock_with_proof(sent).json["lock_token"]
    assert centre.unlock(key, old, reason="材料不全").status_code == 200
    problem(centre.feedback(key, old, amount="1.00"), 409, "lock_ended")
    problem(centre.unlock(key, old), 409, "lock_ended")
    insurer_token = insurer.lock_with_proof(sent).json["lock_token"]
    problem(centre.feedback(key, insurer_token, amount="1.00"), 409, "lock_token_invalid")
    problem(insurer.feedback(key, "lk_forged", amount="1.00"), 409, "lock_token_invalid")
    assert db.session.scalar(select(Receipt)).reimbursed_fen == 0
    timeline = db.session.scalars(select(TimelineEntry).where(TimelineEntry.event == "receipt.unlocked")).all()
    assert [t.reason for t in timeline] == ["材料不全"]


def test_lock_expires_and_a_late_feedback_with_the_old_token_is_refused(app, centre, insurer, sent, monkeypatch):
    monkeypatch.setitem(app.config, "LOCK_TTL_SECONDS", 1)
    key = receipt_key(sent)
    old = centre.lock_with_proof(sent).json["lock_token"]
    time.sleep(1.2)
    # Checked on access: the expired lease counts as released everywhere.
    detail = centre.get(f"/receipts/{key}").json
    assert detail["lock"] is None and detail["display_status"] == "正常"
    problem(centre.feedback(key, old, amount="1.00"), 409, "lock_ended")
    monkeypatch.setitem(app.config, "LOCK_TTL_SECONDS", 3600)
    assert insurer.lock_with_proof(sent).status_code == 201
    assert events() == ["receipt.issued", "receipt.locked", "receipt.lock_expired", "receipt.locked"]
    assert db.session.scalar(select(Receipt)).reimbursed_fen == 0


def test_renew_extends_the_lease_for_its_holder_only(app, centre, insurer, sent, monkeypatch):
    key = receipt_key(sent)
    locked = centre.lock_with_proof(sent).json
    renewed = centre.post(f"/receipts/{key}/renew", json={"lock_token": locked["lock_token"]})
    assert renewed.status_code == 200 and renewed.json["expires_at"] > locked["expires_at"]
    problem(insurer.post(f"/receipts/{key}/renew", json={"lock_token": locked["lock_token"]}), 404, "receipt_not_found")


def test_frozen_unit_starts_nothing_new_but_finishes_its_locks(operator, centre, sent, hospital):
    key = receipt_key(sent)
    token = centre.lock_with_proof(sent).json["lock_token"]
    _, other = hospital.issue()
    assert operator.client.post(f"/api/v1/admin/units/{centre.id}/freeze", headers=operator.headers, json={"reason": "核查"}).json["status"] == "frozen"
    problem(centre.lock_with_proof(other), 403, "unit_not_active")
    problem(centre.post(f"/receipts/{key}/renew", json={"lock_token": token}), 403, "unit_not_active")
    assert centre.feedback(key, token, amount="50.00").status_code == 201
    assert operator.client.post(f"/api/v1/admin/units/{centre.id}/unfreeze", headers=operator.headers).json["status"] == "active"
    assert centre.lock_with_proof(other).status_code == 201


def test_cancelled_unit_loses_its_locks_and_access(operator, centre, insurer, sent):
    centre.lock_with_proof(sent)
    resp = operator.client.post(f"/api/v1/admin/units/{centre.id}/cancel", headers=operator.headers, json={"reason": "机构撤销"})
    assert resp.status_code == 200 and resp.json["status"] == "cancelled"
    receipt = db.session.scalar(select(Receipt))
    assert receipt.lock_id is None
    assert db.session.scalar(select(Lock)).end_reason == "unit_cancelled"
    assert events()[-1] == "receipt.unlocked"
    problem(centre.lock_with_proof(sent), 401, "invalid_client")
    assert insurer.lock_with_proof(sent).status_code == 201
    problem(operator.client.post(f"/api/v1/admin/units/{centre.id}/unfreeze", headers=operator.headers), 409, "invalid_unit_transition")


def test_idempotency_key_replays_the_stored_answer(centre, sent):
    first = centre.lock_with_proof(sent, idempotency_key="claim-42-lock")
    again = centre.lock_with_proof(sent, idempotency_key="claim-42-lock")
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert db.session.scalar(select(func.count()).select_from(Lock)) == 1
    other_body = centre.lock(receipt_key(sent), {"check_code": sent["check_code"], "total_amount": "1.00"}, idempotency_key="claim-42-lock")
    problem(other_body, 422, "idempotency_key_reused")


def test_idempotency_keys_are_scoped_per_client_and_errors_are_replayed(centre, insurer, sent):
    key = receipt_key(sent)
    token = centre.lock_with_proof(sent, idempotency_key="k1").json["lock_token"]
    # The same key string from another client is another key.
    problem(insurer.lock_with_proof(sent, idempotency_key="k1"), 409, "receipt_locked")
    fb = {"lock_token": token, "outcome": "reimbursed", "amount": "999.00"}
    first = centre.post(f"/receipts/{key}/feedback", json=fb, idempotency_key="fb-1")
    problem(first, 409, "amount_exceeds_remaining")
    again = centre.post(f"/receipts/{key}/feedback", json=fb, idempotency_key="fb-1")
    assert again.status_code == 409 and again.json["code"] == "amount_exceeds_remaining" and again.headers["Idempotent-Replayed"] == "true"


def test_batch_verify_gives_a_result_per_item(centre, hospital, sent):
    _, second = hospital.issue()
    items = [
        {k: sent[k] for k in ("code", "number", "check_code", "total_amount")},
        {**{k: second[k] for k in ("code", "number", "check_code", "total_amount")}, "check_code": "ZZZZZZ"},
        {"code": "46060125", "number": "0000000000", "check_code": "ABCDEF", "total_amount": "1.00"},
    ]
    resp = centre.post("/receipts/verify", json={"items": items})
    assert resp.status_code == 200
    results = resp.json["items"]
    assert [r["authentic"] for r in results] == [True, False, False]
    assert results[0]["display_status"] == "正常" and results[0]["remaining_amount"] == "356.80"
    assert set(results[1]) == set(results[2]) == {"index", "key", "authentic"}
    assert "payer" not in results[0]
    access = db.session.scalars(select(ReceiptAccess)).all()
    assert [(a.accessor_id, a.action) for a in access] == [(centre.id, "verify")]
    problem(centre.post("/receipts/verify", json={"items": items * 34}), 422, "validation_failed")


def test_unit_lists_and_reads_only_what_it_holds(centre, insurer, hospital, sent):
    _, other = hospital.issue()
    centre.lock_with_proof(sent)
    listed = centre.get("/receipts").json
    assert [r["key"] for r in listed["items"]] == [receipt_key(sent)] and listed["next_cursor"] is None
    assert listed["items"][0]["payer"]["id_number"] == "460***********1234"
    assert insurer.get("/receipts").json["items"] == []
    detail = centre.get(f"/receipts/{receipt_key(sent)}").json
    assert detail["display_status"] == "报销中" and detail["lock"]["unit"]["name"] == "三亚市医疗保障局"
    assert "lock_token" not in str(detail)
    problem(insurer.get(f"/receipts/{receipt_key(sent)}"), 404, "receipt_not_found")
    problem(centre.get(f"/receipts/{receipt_key(other)}"), 404, "receipt_not_found")
    actions = [a.action for a in db.session.scalars(select(ReceiptAccess).order_by(ReceiptAccess.id))]
    assert actions == ["lock", "list", "view"]


def test_stored_idempotent_answers_do_not_hold_the_lock_token_in_clear(centre, sent):
    from backend.reimbursements.models import IdempotencyRecord

    token = centre.lock_with_proof(sent, idempotency_key="claim-sealed").json["lock_token"]
    record = db.session.scalar(select(IdempotencyRecord))
    assert token not in str(record.response_body)
    assert centre.lock_with_proof(sent, idempotency_key="claim-sealed").json["lock_token"] == token


def test_only_issued_receipts_with_a_remainder_can_be_locked(hospital, centre, sent):
    hospital.push("receipt.voided", {"code": sent["code"], "number": sent["number"], "reason": "重复开具"})
    body = problem(centre.lock_with_proof(sent), 409, "receipt_not_reimbursable")
    assert "voided" in body["detail"]


def test_reimbursed_at_in_the_future_is_refused(centre, sent):
    token = centre.lock_with_proof(sent).json["lock_token"]
    problem(centre.feedback(receipt_key(sent), token, amount="1.00", reimbursed_at="2099-01-01T00:00:00+08:00"), 422, "invalid_reimbursed_at")
    problem(centre.feedback(receipt_key(sent), token, amount="1.00", reimbursed_at="2025-11-25T09:00:00"), 422, "validation_failed")


def test_renewing_an_expired_lock_is_refused(app, centre, sent, monkeypatch):
    monkeypatch.setitem(app.config, "LOCK_TTL_SECONDS", 1)
    token = centre.lock_with_proof(sent).json["lock_token"]
    time.sleep(1.2)
    problem(centre.post(f"/receipts/{receipt_key(sent)}/renew", json={"lock_token": token}), 409, "lock_ended")


def test_unit_list_filters_by_status(hospital, centre, sent):
    _, other = hospital.issue()
    token = centre.lock_with_proof(sent).json["lock_token"]
    centre.lock_with_proof(other)
    centre.feedback(receipt_key(sent), token, amount="10.00")
    keys = lambda status: [i["key"] for i in centre.get("/receipts", status=status).json["items"]]  # noqa: E731
    assert keys("locked") == [receipt_key(other)]
    assert keys("reimbursed") == [receipt_key(sent)]
    assert set(keys("all")) == {receipt_key(sent), receipt_key(other)}
    problem(centre.get("/receipts", status="bogus"), 422, "validation_failed")
    problem(centre.get("/receipts", cursor="!!"), 422, "invalid_cursor")


def test_rotating_a_units_credentials_revokes_the_tokens_issued_before(operator):
    unit = UnitClient.open(operator)
    old_headers = dict(unit.headers)
    assert unit.client.get("/api/v1/unit/me", headers=old_headers).status_code == 200
    time.sleep(1.1)  # token times are whole seconds: the rotation falls in a later one
    rotated = operator.client.post(f"/api/v1/admin/units/{unit.id}/credentials/rotate", headers=operator.headers)
    assert rotated.status_code == 201
    refused = unit.client.get("/api/v1/unit/me", headers=old_headers)
    assert refused.status_code == 401 and refused.json["code"] == "token_revoked" and refused.json["title"] == "凭证已更换，请重新获取访问令牌"
    unit.client_secret = rotated.json["client_secret"]
    unit.refresh_token()
    assert unit.client.get("/api/v1/unit/me", headers=unit.headers).status_code == 200
