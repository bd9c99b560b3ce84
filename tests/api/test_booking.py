"""Booking (入账, DESIGN §10 revised): each unit books its own reimbursements, each at most
once; the bookings of all units never exceed the receipt's total."""
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


def _book(unit, key, amount, voucher):
    return unit.post(f"/receipts/{key}/booking", json={"voucher_no": voucher, "booked_at": "2025-11-25T10:00:00+08:00", "amount": amount})


def test_each_payer_books_its_own_part_once_and_the_citizen_is_told_what_is_left(client, operator):
    social = UnitClient.open(operator)
    insurer = UnitClient.open(operator, kind="commercial_insurer")
    sent = _reimbursed(operator, social, amount="200.00")
    key = receipt_key(sent)
    lock = insurer.lock_with_proof(sent).json
    assert insurer.feedback(key, lock["lock_token"], amount="100.00").status_code == 201
    assert _book(social, key, "200.00", "A-1").status_code == 201
    assert _book(insurer, key, "100.00", "B-1").status_code == 201  # the insurer books its own payout
    for unit, amount in ((social, "200.00"), (insurer, "100.00")):
        again = _book(unit, key, amount, "X-2")
        assert again.status_code == 409 and again.json["code"] == "already_booked", again.json
        assert social.name not in str(again.json) and insurer.name not in str(again.json)
    zhang = citizen_login(client)
    texts = [n["body"] for n in client.get("/api/v1/me/notifications", headers=zhang).json["items"] if n["type"] == "receipt.booked"]
    assert len(texts) == 2 and all("仍可由其他单位报销" in t and "¥56.80" in t for t in texts), texts
    assert not any("不能再次入账报销" in t for t in texts)


def test_a_unit_that_reimbursed_twice_books_each_reimbursement_once(client, operator):
    unit = UnitClient.open(operator)
    sent = _reimbursed(operator, unit, amount="100.00")
    key = receipt_key(sent)
    lock = unit.lock_with_proof(sent).json
    assert unit.feedback(key, lock["lock_token"], amount="256.80").status_code == 201
    assert _book(unit, key, "100.00", "V-1").status_code == 201
    too_much = _book(unit, key, "256.81", "V-2")  # the next reimbursement is 256.80
    assert too_much.status_code == 409 and too_much.json["code"] == "amount_exceeds_reimbursed"
    assert _book(unit, key, "256.80", "V-2").status_code == 201
    assert _book(unit, key, "1.00", "V-3").json["code"] == "already_booked"
    zhang = citizen_login(client)
    last = [n["body"] for n in client.get("/api/v1/me/notifications", headers=zhang).json["items"] if n["type"] == "receipt.booked"][0]
    assert "¥256.80" in last and "这笔报销不能再次入账" in last and "其他单位" not in last  # nothing left to reimburse


def test_bookings_never_exceed_the_total(client, operator):
    social = UnitClient.open(operator)
    insurer = UnitClient.open(operator, kind="commercial_insurer")
    sent = _reimbursed(operator, social, amount="300.00")
    key = receipt_key(sent)
    assert _book(social, key, "300.00", "A-1").status_code == 201
    lock = insurer.lock_with_proof(sent).json  # 56.80 left; booked before its feedback, while it holds the lock
    over = _book(insurer, key, "100.00", "B-1")
    assert over.status_code == 409 and over.json["code"] == "booking_exceeds_total"
    assert _book(insurer, key, "56.80", "B-1").status_code == 201
    assert _book(insurer, key, "1.00", "B-2").json["code"] == "already_booked"
    assert insurer.feedback(key, lock["lock_token"], amount="56.80").status_code == 201
    assert _book(insurer, key, "56.80", "B-3").json["code"] == "booking_exceeds_total"


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
