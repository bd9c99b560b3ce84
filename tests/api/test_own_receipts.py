"""A unit's own receipts (payer: the unit itself) and passing one on to another unit."""
from tests.support import UnitClient, receipt_key


def _issue_to(operator, unit_credit_code, hospital=None):
    hospital = hospital or operator.register_hospital()
    data = hospital.receipt(payer_name="三亚市某保险公司")
    data["payer"] = {"name": "三亚市某保险公司", "id_type": "organization", "id_number": unit_credit_code}
    resp = hospital.push("receipt.issued", hospital.sign(data))
    assert resp.status_code == 202, resp.json
    return data


def test_a_unit_sees_its_own_receipts_and_passes_one_on(client, operator):
    payer = UnitClient.open(operator, kind="employer", credit_code="91460000MA5T000001")
    insurer = UnitClient.open(operator, kind="commercial_insurer", credit_code="91460000MA5T000002")
    other = UnitClient.open(operator)
    sent = _issue_to(operator, "91460000MA5T000001")
    key = receipt_key(sent)
    own = payer.get("/own-receipts").json
    assert [r["key"] for r in own["items"]] == [key] and own["items"][0]["payer"]["id_number"] != "91460000MA5T000001"
    assert other.get("/own-receipts").json["items"] == []
    # Before the transfer the insurer cannot lock it in digital-account mode; after, it can.
    assert insurer.lock(key, {}).status_code == 404
    passed = payer.post(f"/own-receipts/{key}/transfers", json={"to_credit_code": "91460000MA5T000002"})
    assert passed.status_code == 201 and passed.json["to"]["credit_code"] == "91460000MA5T000002"
    assert [r["key"] for r in insurer.get("/receipts").json["items"]] == [key]
    locked = insurer.lock(key, {})
    assert locked.status_code == 201, locked.json
    # Revocable until locked: now it is locked, so no.
    refused = client.delete(f"/api/v1/unit/own-receipts/{key}/transfers/{passed.json['id']}", headers=payer.headers)
    assert refused.status_code == 409 and refused.json["code"] == "locked_by_recipient"
    listed = payer.get(f"/own-receipts/{key}/transfers").json["items"]
    assert listed[0]["locked_by_recipient"] is True


def test_a_transfer_is_revocable_before_the_lock(client, operator):
    payer = UnitClient.open(operator, kind="employer", credit_code="91460000MA5T000011")
    insurer = UnitClient.open(operator, kind="commercial_insurer", credit_code="91460000MA5T000012")
    key = receipt_key(_issue_to(operator, "91460000MA5T000011"))
    passed = payer.post(f"/own-receipts/{key}/transfers", json={"to_credit_code": "91460000MA5T000012"}).json
    revoked = client.delete(f"/api/v1/unit/own-receipts/{key}/transfers/{passed['id']}", headers=payer.headers)
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    assert insurer.lock(key, {}).status_code == 404
    assert insurer.get("/receipts").json["items"] == []


def test_bad_transfers_write_nothing(client, operator):
    payer = UnitClient.open(operator, kind="employer", credit_code="91460000MA5T000021")
    frozen = UnitClient.open(operator, credit_code="91460000MA5T000022")
    client.post(f"/api/v1/admin/units/{frozen.id}/freeze", headers=operator.headers, json={"reason": "审计"})
    key = receipt_key(_issue_to(operator, "91460000MA5T000021"))
    cases = [("91460000MA5T000099", 404, "unit_not_found"), ("91460000MA5T000022", 409, "unit_not_active"),
             ("91460000MA5T000021", 422, "same_unit")]
    for credit_code, status, code in cases:
        resp = payer.post(f"/own-receipts/{key}/transfers", json={"to_credit_code": credit_code})
        assert (resp.status_code, resp.json["code"]) == (status, code), resp.json
    assert payer.post(f"/own-receipts/{key}/transfers", json={"to_credit_code": "bad"}).status_code == 422
    stranger = UnitClient.open(operator)
    assert stranger.post(f"/own-receipts/{key}/transfers", json={"to_credit_code": "91460000MA5T000021"}).status_code == 404
    assert payer.get(f"/own-receipts/{key}/transfers").json["items"] == []


def test_a_transfer_is_revoked_only_under_its_own_receipt(client, operator):
    payer = UnitClient.open(operator, kind="employer", credit_code="91460000MA5T000031")
    insurer = UnitClient.open(operator, kind="commercial_insurer", credit_code="91460000MA5T000032")
    hospital = operator.register_hospital()
    key_a = receipt_key(_issue_to(operator, "91460000MA5T000031", hospital))
    key_b = receipt_key(_issue_to(operator, "91460000MA5T000031", hospital))
    transfer_b = payer.post(f"/own-receipts/{key_b}/transfers", json={"to_credit_code": "91460000MA5T000032"}).json
    wrong = client.delete(f"/api/v1/unit/own-receipts/{key_a}/transfers/{transfer_b['id']}", headers=payer.headers)
    assert wrong.status_code == 404 and wrong.json["code"] == "transfer_not_found"
    assert payer.get(f"/own-receipts/{key_b}/transfers").json["items"][0]["revoked_at"] is None
    assert [r["key"] for r in insurer.get("/receipts").json["items"]] == [key_b]
