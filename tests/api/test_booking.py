"""Booking (入账, DESIGN §10): a unit that reimbursed (or holds) a receipt books it once;
no receipt is booked twice, by any unit."""
import uuid

from tests.support import ZHANG_SAN_ID, UnitClient, citizen_login, receipt_key


def _reimbursed(operator, unit, amount="200.00"):
    _, sent = operator.register_hospital().issue(payer_id=ZHANG_SAN_ID)
    lock = unit.lock_with_proof(sent).json
    assert unit.feedback(receipt_key(sent), lock["lock_token"], amount=amount).status_code == 201
    return sent


def test_a_reimbursing_unit_books_once_and_the_citizen_sees_it(client, operator):
    unit = UnitClient.open(operator)
    sent = _reimbursed(operator, unit)
    key = receipt_key(sent)
    idem = str(uuid.uuid4())
    body = {"voucher_no": "记-2025-11-0042", "booked_at": "2025-11-25T10:00:00+08:00", "amount": "200.00"}
    booked = unit.post(f"/receipts/{key}/booking", json=body, idempotency_key=idem)
    assert booked.status_code == 201 and booked.json["voucher_no"] == "记-2025-11-0042" and booked.json["amount"] == "200.00"
    assert unit.post(f"/receipts/{key}/booking", json=body, idempotency_key=idem).json == booked.json  # a retry, answered as before
    again = unit.post(f"/receipts/{key}/booking", json={**body, "voucher_no": "记-2025-11-0043"})
    assert again.status_code == 409 and again.json["code"] == "already_booked"
    zhang = citizen_login(client)
    detail = client.get(f"/api/v1/me/receipts/{key}", headers=zhang).json
    assert [e["event"] for e in detail["timeline"]][-1] == "receipt.booked"
    assert any(n["type"] == "receipt.booked" for n in client.get("/api/v1/me/notifications", headers=zhang).json["items"])


def test_no_second_unit_books_a_receipt_and_the_refusal_names_no_unit(client, operator):
    social = UnitClient.open(operator)
    insurer = UnitClient.open(operator, kind="commercial_insurer")
    sent = _reimbursed(operator, social, amount="200.00")
    key = receipt_key(sent)
    lock = insurer.lock_with_proof(sent).json
    assert insurer.feedback(key, lock["lock_token"], amount="100.00").status_code == 201
    assert social.post(f"/receipts/{key}/booking", json={"voucher_no": "A-1", "booked_at": "2025-11-25T10:00:00+08:00", "amount": "200.00"}).status_code == 201
    refused = insurer.post(f"/receipts/{key}/booking", json={"voucher_no": "B-1", "booked_at": "2025-11-26T10:00:00+08:00", "amount": "100.00"})
    assert refused.status_code == 409 and refused.json["code"] == "already_booked"
    assert social.name not in str(refused.json)


def test_bad_bookings_write_nothing(client, operator):
    unit = UnitClient.open(operator)
    stranger = UnitClient.open(operator)
    sent = _reimbursed(operator, unit, amount="200.00")
    key = receipt_key(sent)
    good = {"voucher_no": "记-1", "booked_at": "2025-11-25T10:00:00+08:00", "amount": "200.00"}
    assert stranger.post(f"/receipts/{key}/booking", json=good).status_code == 404  # never held it
    too_much = unit.post(f"/receipts/{key}/booking", json={**good, "amount": "200.01"})
    assert too_much.status_code == 409 and too_much.json["code"] == "amount_exceeds_reimbursed"
    for broken in [{**good, "amount": "0.00"}, {**good, "booked_at": "2025-11-25"}, {**good, "voucher_no": ""}, {"voucher_no": "x"}]:
        assert unit.post(f"/receipts/{key}/booking", json=broken).status_code == 422, broken
    assert unit.post(f"/receipts/{key}/booking", json=good).status_code == 201  # nothing was written by the refusals


def test_a_settlement_split_is_recorded_and_a_later_insurer_sees_it_and_the_remainder(client, operator):
    centre = UnitClient.open(operator)
    insurer = UnitClient.open(operator, kind="commercial_insurer")
    _, sent = operator.register_hospital().issue(payer_id=ZHANG_SAN_ID)
    key = receipt_key(sent)
    lock = centre.lock_with_proof(sent).json
    wrong = centre.feedback(key, lock["lock_token"], amount="250.00", settlement={"fund_paid": "200.00", "account_paid": "40.00"})
    assert wrong.status_code == 422 and wrong.json["code"] == "settlement_mismatch"
    rejected_with_split = centre.feedback(key, lock["lock_token"], outcome="rejected", reason="材料不全", settlement={"fund_paid": "1.00"})
    assert rejected_with_split.status_code == 422 and rejected_with_split.json["code"] == "settlement_without_reimbursement"
    ok = centre.feedback(key, lock["lock_token"], amount="250.00", settlement={"fund_paid": "200.00", "account_paid": "50.00"})
    assert ok.status_code == 201, ok.json
    second = insurer.lock_with_proof(sent)
    assert second.status_code == 201
    seen = insurer.get(f"/receipts/{key}").json
    assert seen["remaining_amount"] == "106.80"
    assert seen["ledger"][0]["settlement"] == {"fund_paid": "200.00", "account_paid": "50.00"}
