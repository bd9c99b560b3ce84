"""The wallet: exactly the citizen's own receipts, filters, keyset pages, masking, detail."""
import pytest
from sqlalchemy import select

from backend.extensions import db
from backend.receipts.models import Receipt
from tests.support import LI_SI_ID, ZHANG_SAN_ID, UnitClient, citizen_login, receipt_key


@pytest.fixture()
def zhang(client):
    return citizen_login(client, "zhangsan")


@pytest.fixture()
def hospital(operator):
    return operator.register_hospital()


def wallet(client, headers, **params):
    resp = client.get("/api/v1/me/receipts", headers=headers, query_string=params)
    assert resp.status_code == 200, resp.json
    return resp.json


def test_a_citizen_sees_exactly_their_own_receipts(client, hospital, zhang):
    mine = [hospital.issue(payer_id=ZHANG_SAN_ID)[1] for _ in range(3)]
    hospital.issue(payer_id=LI_SI_ID, payer_name="李四")
    items = wallet(client, zhang)["items"]
    assert {i["key"] for i in items} == {receipt_key(r) for r in mine}
    assert all(i["payer"]["id_number"] == ZHANG_SAN_ID for i in items)  # the owner sees it unmasked
    li = citizen_login(client, "lisi")
    li_items = wallet(client, li)["items"]
    assert len(li_items) == 1 and li_items[0]["payer"]["name"] == "李四"


def test_pages_are_newest_first_without_gaps_or_duplicates(client, hospital, zhang):
    sent = []
    for day in range(1, 10):
        for _ in range(2):  # two receipts per day: ties broken by id
            data = hospital.receipt(issue_date=f"2025-10-{day:02d}", issued_at=f"2025-10-{day:02d}T09:00:00+08:00")
            data["visit"] = {**data["visit"], "visit_date": f"2025-10-{day:02d}"}
            assert hospital.push("receipt.issued", hospital.sign(data)).status_code == 202
            sent.append(receipt_key(data))
    seen, cursor = [], None
    while True:
        page = wallet(client, zhang, limit=4, **({"cursor": cursor} if cursor else {}))
        seen += [i["key"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(sent) and len(seen) == len(set(seen)) == 18
    dates = [db.session.scalar(select(Receipt.issue_date).where(Receipt.number == k.split("-")[1])) for k in seen]
    assert dates == sorted(dates, reverse=True)


def test_filters(client, operator, hospital, zhang):
    other = operator.register_hospital(name="广东省中医院海南医院", credit_code="12460000MB0C12345A")
    _, a = hospital.issue(payer_id=ZHANG_SAN_ID)
    _, b = other.issue(payer_id=ZHANG_SAN_ID)
    data = hospital.receipt(issue_date="2025-10-01", issued_at="2025-10-01T09:00:00+08:00")
    data["visit"] = {**data["visit"], "visit_date": "2025-10-01"}
    hospital.push("receipt.issued", hospital.sign(data))
    hospital.push("receipt.voided", {"code": a["code"], "number": a["number"], "reason": "重复开具"})
    keys = lambda **p: {i["key"] for i in wallet(client, zhang, **p)["items"]}  # noqa: E731
    assert keys(issuer="12460000MB0C12345A") == {receipt_key(b)}
    assert keys(issuer=other.issuer_id) == {receipt_key(b)}
    assert keys(status="voided") == {receipt_key(a)}
    assert keys(status="issued") == {receipt_key(b), receipt_key(data)}
    assert keys(date_to="2025-10-31") == {receipt_key(data)}
    assert keys(date_from="2025-11-01") == {receipt_key(a), receipt_key(b)}
    assert keys(province="44") == set()
    assert keys(q="广东省中医院") == {receipt_key(b)}
    assert keys(q=b["number"]) == {receipt_key(b)}
    assert keys(q="100%") == set()


def test_status_filters_follow_locks_and_reimbursement(client, operator, hospital, zhang):
    unit = UnitClient.open(operator)
    _, locked = hospital.issue(payer_id=ZHANG_SAN_ID)
    _, partial = hospital.issue(payer_id=ZHANG_SAN_ID)
    unit.lock_with_proof(locked)
    token = unit.lock_with_proof(partial).json["lock_token"]
    unit.feedback(receipt_key(partial), token, amount="100.00")
    by_status = {s: {i["key"] for i in wallet(client, zhang, status=s)["items"]} for s in ("locked", "partial", "reimbursed", "issued")}
    assert by_status == {"locked": {receipt_key(locked)}, "partial": {receipt_key(partial)}, "reimbursed": set(), "issued": set()}
    items = {i["key"]: i for i in wallet(client, zhang)["items"]}
    assert items[receipt_key(locked)]["display_status"] == "报销中"
    assert items[receipt_key(locked)]["lock"]["unit"]["name"] == unit.name and "lock_token" not in items[receipt_key(locked)]["lock"]
    assert items[receipt_key(partial)]["display_status"] == "部分报销"
    assert items[receipt_key(partial)]["remaining_amount"] == "256.80"


def test_detail_has_every_element_timeline_and_ledger(client, operator, hospital, zhang):
    unit = UnitClient.open(operator)
    _, sent = hospital.issue(payer_id=ZHANG_SAN_ID)
    token = unit.lock_with_proof(sent).json["lock_token"]
    unit.feedback(receipt_key(sent), token, amount="356.80", reference="YB-9")
    detail = client.get(f"/api/v1/me/receipts/{receipt_key(sent)}", headers=zhang).json
    for element in ("code", "number", "check_code", "title", "kind", "issue_date", "issued_at", "issuer", "clerk", "checker",
                    "payer", "total_amount", "payments", "visit", "items", "signature", "supervision_signature"):
        assert detail[element] == sent.get(element, detail[element])
    assert detail["display_status"] == "已报销" and detail["reimbursement"] == "full"
    assert [t["event"] for t in detail["timeline"]] == ["receipt.issued", "receipt.locked", "receipt.reimbursed", "receipt.unlocked"]
    assert detail["ledger"] == [{"unit": detail["ledger"][0]["unit"], "outcome": "reimbursed", "amount": "356.80",
                                 "reimbursed_at": detail["ledger"][0]["reimbursed_at"], "reference": "YB-9", "reason": None, "settlement": None}]


def test_someone_elses_receipt_answers_like_an_unknown_one(client, hospital, zhang):
    _, theirs = hospital.issue(payer_id=LI_SI_ID)
    foreign = client.get(f"/api/v1/me/receipts/{receipt_key(theirs)}", headers=zhang)
    unknown = client.get("/api/v1/me/receipts/46060125-0000000000", headers=zhang)
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json["code"] == unknown.json["code"] == "receipt_not_found" and foreign.json["title"] == unknown.json["title"]


@pytest.mark.parametrize("params,field", [({"cursor": "!!!"}, None), ({"limit": 500}, "limit"), ({"status": "lost"}, "status"),
                                          ({"date_from": "yesterday"}, "date_from"), ({"province": "4"}, "province")])
def test_bad_wallet_parameters_are_422(client, zhang, params, field):
    resp = client.get("/api/v1/me/receipts", headers=zhang, query_string=params)
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    if field:
        assert field in resp.json["errors"]["query"]
    else:
        assert resp.json["code"] == "invalid_cursor"


def test_units_see_the_id_number_masked(client, operator, hospital):
    unit = UnitClient.open(operator)
    _, sent = hospital.issue(payer_id=ZHANG_SAN_ID)
    unit.lock_with_proof(sent)
    seen = unit.get(f"/receipts/{receipt_key(sent)}").get_data(as_text=True)
    assert ZHANG_SAN_ID not in seen and "460***********1234" in seen
