"""查验次数 (DESIGN §11): every check that identified a receipt is counted and answered, on
every channel; wrong guesses count nothing; the payer sees the count, the latest time and
the units' names, and nobody else does."""
import io
from datetime import datetime

from sqlalchemy import func, select

from backend.extensions import db
from backend.layout import NodeSigner, render_receipt_pdf
from tests.conftest import postgres_only
from tests.support import ZHANG_SAN_ID, UnitClient, citizen_login, receipt_key


def _elements(sent, **changes):
    return {**{k: sent[k] for k in ("code", "number", "check_code", "issue_date", "total_amount")}, **changes}


def _verify_layout(client, data: bytes):
    return client.post("/api/v1/verify/layout", data={"file": (io.BytesIO(data), "receipt.pdf")}, content_type="multipart/form-data")


def _batch_item(sent, **changes):
    return {**{k: sent[k] for k in ("code", "number", "check_code", "total_amount")}, **changes}


def _offset_timestamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None, value
    return parsed


def _stored_checks() -> int:
    from backend.verification.models import ReceiptCheck

    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(ReceiptCheck))


def test_every_channel_counts_its_check_and_answers_the_count(client, operator):
    _, sent = operator.register_hospital().issue(payer_id=ZHANG_SAN_ID)
    key = receipt_key(sent)
    zhang = citizen_login(client)
    assert client.get(f"/api/v1/me/receipts/{key}", headers=zhang).json["checks"] == {
        "count": 0, "last_checked_at": None, "units": [],
        "by_channel": {"elements": 0, "layout": 0, "qr_page": 0, "unit": 0, "data_file": 0}}

    first = client.post("/api/v1/verify", json=_elements(sent)).json
    assert first["authentic"] and first["check_count"] == 1
    _offset_timestamp(first["last_checked_at"])
    assert client.post("/api/v1/verify", json=_elements(sent)).json["check_count"] == 2

    pdf = client.get(f"/api/v1/me/receipts/{key}/layout.pdf", headers=zhang).data  # a download is no check
    layout = _verify_layout(client, pdf).json
    assert layout["valid"] and layout["check_count"] == 3 and _offset_timestamp(layout["last_checked_at"])

    page = client.get(f"/v/{key}?c={sent['check_code']}").get_data(as_text=True)
    assert "查验次数" in page and "4 次（含本次）" in page and "北京时间" in page

    centre = UnitClient.open(operator, name="三亚市医疗保障局")
    batch = centre.post("/receipts/verify", json={"items": [_batch_item(sent)]}).json
    assert batch["items"][0]["check_count"] == 5 and _offset_timestamp(batch["items"][0]["last_checked_at"])
    centre.post("/receipts/verify", json={"items": [_batch_item(sent)]})

    checks = client.get(f"/api/v1/me/receipts/{key}", headers=zhang).json["checks"]
    assert checks["count"] == 6
    assert checks["by_channel"] == {"elements": 2, "layout": 1, "qr_page": 1, "unit": 2, "data_file": 0}
    assert [(u["name"], u["count"]) for u in checks["units"]] == [("三亚市医疗保障局", 2)]
    assert set(checks["units"][0]) == {"name", "count", "last_checked_at"}
    assert _offset_timestamp(checks["last_checked_at"]) >= _offset_timestamp(first["last_checked_at"])
    assert _stored_checks() == 6


def test_wrong_guesses_count_nothing_and_reveal_no_count(client, operator):
    hospital = operator.register_hospital()
    _, sent = hospital.issue(payer_id=ZHANG_SAN_ID)
    key = receipt_key(sent)
    for change in ({"check_code": "AAAAAA"}, {"total_amount": "1.00"}, {"issue_date": "2025-01-01"}):
        assert client.post("/api/v1/verify", json=_elements(sent, **change)).json == {"authentic": False}
    assert client.get(f"/v/{key}?c=ZZZZZZ").status_code == 404
    centre = UnitClient.open(operator)
    wrong = centre.post("/receipts/verify", json={"items": [_batch_item(sent, check_code="ZZZZZZ")]}).json["items"][0]
    assert wrong == {"index": 0, "key": key, "authentic": False}
    # A file signed by anyone but this node, of the real receipt with its right check code.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    answer = client.get(f"/api/v1/me/receipts/{key}", headers=citizen_login(client)).json
    other_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    forged = NodeSigner(other_key, common_name="Someone else").sign(render_receipt_pdf(answer, f"https://x.example/v/{key}"))
    body = _verify_layout(client, forged).json
    assert body["valid"] is False and body["check_count"] is None and body["last_checked_at"] is None
    assert _stored_checks() == 0
    assert client.get(f"/api/v1/me/receipts/{key}", headers=citizen_login(client)).json["checks"]["count"] == 0


def test_only_the_payer_sees_the_checks_and_units_see_no_other_unit(client, operator):
    _, sent = operator.register_hospital().issue(payer_id=ZHANG_SAN_ID)
    key = receipt_key(sent)
    checker = UnitClient.open(operator, name="三亚市医疗保障局")
    assert checker.post("/receipts/verify", json={"items": [_batch_item(sent)]}).json["items"][0]["check_count"] == 1
    mine = client.get(f"/api/v1/me/receipts/{key}", headers=citizen_login(client))
    assert mine.json["checks"]["units"][0]["name"] == "三亚市医疗保障局"
    # Another citizen: the receipt is not theirs, so not even its existence shows.
    other = client.get(f"/api/v1/me/receipts/{key}", headers=citizen_login(client, "lisi"))
    assert other.status_code == 404 and "三亚市医疗保障局" not in other.get_data(as_text=True)
    # A unit reading the receipt sees no checks, and not the checking unit's name.
    insurer = UnitClient.open(operator, name="某商业保险公司", kind="commercial_insurer")
    assert insurer.lock_with_proof(sent).status_code == 201
    detail = insurer.get(f"/receipts/{key}")
    assert detail.status_code == 200 and "checks" not in detail.json
    assert "三亚市医疗保障局" not in detail.get_data(as_text=True)
    assert "checks" not in client.get("/api/v1/me/receipts", headers=citizen_login(client)).json["items"][0]


def test_the_qr_page_shows_the_count_of_its_receipt(client, operator):
    _, sent = operator.register_hospital().issue(payer_id=ZHANG_SAN_ID)
    key = receipt_key(sent)
    client.post("/api/v1/verify", json=_elements(sent))
    page = client.get(f"/v/{key}?c={sent['check_code']}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "2 次（含本次）" in text and "最近查验时间" in text
    assert "未通过" not in text


def test_a_batch_counts_each_authentic_item_for_its_own_receipt(client, operator):
    hospital = operator.register_hospital()
    _, first = hospital.issue(payer_id=ZHANG_SAN_ID)
    _, second = hospital.issue(payer_id=ZHANG_SAN_ID)
    client.post("/api/v1/verify", json=_elements(second))
    centre = UnitClient.open(operator)
    items = centre.post("/receipts/verify", json={"items": [
        _batch_item(first), _batch_item(second, check_code="ZZZZZZ"), _batch_item(second)]}).json["items"]
    assert [(i["authentic"], i.get("check_count")) for i in items] == [(True, 1), (False, None), (True, 2)]


def test_answers_with_checks_match_the_spec(client, operator):
    from tests.openapi_answers import mismatches

    spec = client.get("/api/v1/openapi.json").json
    _, sent = operator.register_hospital().issue(payer_id=ZHANG_SAN_ID)
    key = receipt_key(sent)
    zhang = citizen_login(client)
    unit = UnitClient.open(operator)
    answers = [
        ("post", "/api/v1/verify", client.post("/api/v1/verify", json=_elements(sent))),
        ("post", "/api/v1/verify/layout", _verify_layout(client, client.get(f"/api/v1/me/receipts/{key}/layout.pdf", headers=zhang).data)),
        ("post", "/api/v1/unit/receipts/verify", unit.post("/receipts/verify", json={"items": [_batch_item(sent)]})),
        ("get", "/api/v1/me/receipts/{key}", client.get(f"/api/v1/me/receipts/{key}", headers=zhang)),
    ]
    assert answers[-1][2].json["checks"]["count"] == 3
    problems = [p for method, path, resp in answers for p in mismatches(spec, method, path, resp)]
    assert problems == []
    spec_text = str(spec["components"]["schemas"])
    assert "check_count" in spec_text and "last_checked_at" in spec_text and "by_channel" in spec_text


@postgres_only()
def test_a_check_that_cannot_be_recorded_answers_a_null_count_not_an_error(app_ctx, client, operator):
    from backend.verification import checks

    _, sent = operator.register_hospital().issue(payer_id=ZHANG_SAN_ID)
    # A receipt id the database refuses (no such receipt): the verification would still answer.
    assert checks.record_check(2**62, checks.ELEMENTS) == (None, None)
    assert client.post("/api/v1/verify", json=_elements(sent)).json["check_count"] == 1
