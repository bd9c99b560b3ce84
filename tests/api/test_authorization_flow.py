"""QR authorization (授信流转) end to end through the HTTP API, and its bad inputs."""
from datetime import timedelta
from xml.etree import ElementTree

import pytest
from sqlalchemy import func, select

from backend.authorizations.models import AuthorizationRequest, AuthorizedReceipt
from backend.common.models import utcnow
from backend.extensions import db
from backend.receipts.models import TimelineEntry
from tests.support import LI_SI_ID, ZHANG_SAN_ID, UnitClient, citizen_login, receipt_key


@pytest.fixture()
def hospital(operator):
    return operator.register_hospital()


@pytest.fixture()
def centre(operator):
    return UnitClient.open(operator, name="三亚市社会保险事业局")


@pytest.fixture()
def zhang(client):
    return citizen_login(client, "zhangsan")


def request_qr(unit, **body):
    resp = unit.post("/authorization-requests", json={"purpose": "医保零星报销", "reference": "LX-2025-0001", **body})
    assert resp.status_code == 201, resp.json
    return resp.json


def scan(client, headers, qr_text):
    return client.post("/api/v1/me/scans", headers=headers, json={"qr_text": qr_text})


def approve(client, headers, request_id, keys):
    return client.post(f"/api/v1/me/authorization-requests/{request_id}/approve", headers=headers, json={"receipt_keys": keys})


def test_from_qr_scan_to_reimbursed(client, hospital, centre, zhang):
    _, first = hospital.issue(payer_id=ZHANG_SAN_ID)
    _, second = hospital.issue(payer_id=ZHANG_SAN_ID)
    created = request_qr(centre, amount_cap="300.00")
    assert created["qr_text"].endswith(created["qr_text"].rsplit("/q/", 1)[1]) and "/q/" in created["qr_text"]
    scanned = scan(client, zhang, created["qr_text"])
    assert scanned.status_code == 200
    assert scanned.json["unit"]["name"] == "三亚市社会保险事业局" and scanned.json["purpose"] == "医保零星报销"
    assert {r["key"] for r in scanned.json["eligible_receipts"]} == {receipt_key(first), receipt_key(second)}
    assert centre.get(f"/authorization-requests/{created['id']}").json["status"] == "pending"

    approved = approve(client, zhang, created["id"], [receipt_key(first)])
    assert approved.status_code == 200 and approved.json["receipt_keys"] == [receipt_key(first)]
    polled = centre.get(f"/authorization-requests/{created['id']}").json
    assert polled["status"] == "approved" and polled["receipt_keys"] == [receipt_key(first)]
    assert [i["key"] for i in centre.get("/receipts", status="authorized").json["items"]] == [receipt_key(first)]
    assert centre.get("/receipts", status="authorized").json["items"][0]["display_status"] == "已授权"

    # Digital-account mode: no proof needed, the authorization is the permission.
    token = centre.lock(receipt_key(first)).json["lock_token"]
    assert centre.lock(receipt_key(second)).status_code == 404  # not authorized
    over_cap = centre.feedback(receipt_key(first), token, amount="300.01")
    assert over_cap.status_code == 409 and over_cap.json["code"] == "amount_exceeds_cap"
    assert centre.feedback(receipt_key(first), token, amount="250.00").status_code == 201

    claims = client.get("/api/v1/me/claims", headers=zhang).json["items"]
    assert [(c["receipt_key"], c["status"], c["amount"]) for c in claims] == [(receipt_key(first), "已报销", "250.00")]
    wallet = {i["key"]: i["display_status"] for i in client.get("/api/v1/me/receipts", headers=zhang).json["items"]}
    assert wallet == {receipt_key(first): "部分报销", receipt_key(second): "正常"}
    events = [e.event for e in db.session.scalars(select(TimelineEntry).order_by(TimelineEntry.id))]
    assert events.count("receipt.authorized") == 1
    log = client.get(f"/api/v1/me/receipts/{receipt_key(first)}/access-log", headers=zhang).json["items"]
    assert {a["action"] for a in log} == {"list", "lock", "feedback"} and all(a["accessor"]["name"] == centre.name for a in log)


def test_qr_images(centre):
    created = request_qr(centre)
    png = centre.get(f"/authorization-requests/{created['id']}/qr.png")
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data.startswith(b"\x89PNG\r\n\x1a\n")
    svg = centre.get(f"/authorization-requests/{created['id']}/qr.svg")
    assert svg.mimetype == "image/svg+xml" and ElementTree.fromstring(svg.data).tag.endswith("svg")
    assert created["qr_png_url"].endswith(f"/api/v1/unit/authorization-requests/{created['id']}/qr.png")


def test_a_qr_is_single_use_and_bound_to_its_first_scanner(client, hospital, centre, zhang):
    _, sent = hospital.issue(payer_id=ZHANG_SAN_ID)
    created = request_qr(centre)
    assert scan(client, zhang, created["qr_text"]).status_code == 200
    assert scan(client, zhang, created["qr_text"]).status_code == 200  # the same citizen may look again
    li = citizen_login(client, "lisi")
    other = scan(client, li, created["qr_text"])
    assert other.status_code == 410 and other.json["code"] == "qr_used"
    assert approve(client, li, created["id"], [receipt_key(sent)]).status_code == 404
    assert approve(client, zhang, created["id"], [receipt_key(sent)]).status_code == 200
    replay = approve(client, zhang, created["id"], [receipt_key(sent)])
    assert replay.status_code == 410 and replay.json["code"] == "qr_used"
    assert scan(client, zhang, created["qr_text"]).json["code"] == "qr_used"
    assert centre.get(f"/authorization-requests/{created['id']}/qr.png").status_code == 410


def test_expired_forged_and_malformed_qr(client, centre, zhang):
    created = request_qr(centre)
    req = db.session.get(AuthorizationRequest, created["id"])
    req.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    expired = scan(client, zhang, created["qr_text"])
    assert expired.status_code == 410 and expired.json["code"] == "qr_expired"
    assert centre.get(f"/authorization-requests/{created['id']}").json["status"] == "expired"
    forged = scan(client, zhang, created["qr_text"][:-4] + "AAAA")
    assert forged.status_code == 404 and forged.json["code"] == "qr_not_found"
    for junk in ["hello", "https://evil.example/q/short", "javascript:alert(1)"]:
        resp = scan(client, zhang, junk)
        assert resp.status_code == 422 and resp.json["code"] == "invalid_qr"


def test_decline(client, centre, zhang):
    created = request_qr(centre)
    scan(client, zhang, created["qr_text"])
    resp = client.post(f"/api/v1/me/authorization-requests/{created['id']}/decline", headers=zhang)
    assert resp.json == {"request_id": created["id"], "status": "declined"}
    assert centre.get(f"/authorization-requests/{created['id']}").json["status"] == "declined"


def test_only_own_reimbursable_receipts_can_be_approved(client, operator, hospital, centre, zhang):
    _, mine = hospital.issue(payer_id=ZHANG_SAN_ID)
    _, theirs = hospital.issue(payer_id=LI_SI_ID)
    _, reversed_ = hospital.issue(payer_id=ZHANG_SAN_ID)
    hospital.push("receipt.voided", {"code": reversed_["code"], "number": reversed_["number"], "reason": "重复"})
    _, locked_elsewhere = hospital.issue(payer_id=ZHANG_SAN_ID)
    UnitClient.open(operator).lock_with_proof(locked_elsewhere)
    created = request_qr(centre)
    eligible = {r["key"] for r in scan(client, zhang, created["qr_text"]).json["eligible_receipts"]}
    assert eligible == {receipt_key(mine)}
    for bad in (theirs, reversed_, locked_elsewhere):
        resp = approve(client, zhang, created["id"], [receipt_key(mine), receipt_key(bad)])
        assert resp.status_code == 422 and resp.json["code"] == "receipt_not_eligible"
        assert resp.json["receipt_keys"] == [receipt_key(bad)]
    unknown = approve(client, zhang, created["id"], ["46060125-0000000000"])
    assert unknown.json["receipt_keys"] == ["46060125-0000000000"]
    assert approve(client, zhang, created["id"], [receipt_key(mine), receipt_key(mine)]).json["code"] == "duplicate_receipt_keys"
    assert db.session.scalar(select(func.count()).select_from(AuthorizedReceipt)) == 0
    assert db.session.get(AuthorizationRequest, created["id"]).status == "pending"


def test_frozen_unit_cannot_ask(operator, centre):
    operator.client.post(f"/api/v1/admin/units/{centre.id}/freeze", headers=operator.headers)
    resp = centre.post("/authorization-requests", json={"purpose": "医保零星报销"})
    assert resp.status_code == 403 and resp.json["code"] == "unit_not_active"


def test_a_unit_cannot_see_another_units_request(operator, centre):
    created = request_qr(centre)
    other = UnitClient.open(operator)
    assert other.get(f"/authorization-requests/{created['id']}").status_code == 404


def test_revocation_keeps_locked_receipts_and_blocks_new_locks(client, hospital, centre, zhang):
    _, a = hospital.issue(payer_id=ZHANG_SAN_ID)
    _, b = hospital.issue(payer_id=ZHANG_SAN_ID)
    created = request_qr(centre)
    scan(client, zhang, created["qr_text"])
    auth_id = approve(client, zhang, created["id"], [receipt_key(a), receipt_key(b)]).json["id"]
    centre.lock(receipt_key(a))
    revoked = client.delete(f"/api/v1/me/authorizations/{auth_id}", headers=zhang).json
    assert revoked["revoked"] == [receipt_key(b)] and [k["key"] for k in revoked["kept"]] == [receipt_key(a)]
    assert centre.lock(receipt_key(b)).status_code == 404
    records = client.get("/api/v1/me/authorizations", headers=zhang).json["items"]
    assert records[0]["status"] == "active" and {r["key"]: r["locked"] for r in records[0]["receipts"]} == {receipt_key(a): True, receipt_key(b): False}
    again = client.delete(f"/api/v1/me/authorizations/{auth_id}", headers=zhang).json
    assert again["revoked"] == []
    li = citizen_login(client, "lisi")
    assert client.delete(f"/api/v1/me/authorizations/{auth_id}", headers=li).status_code == 404


def test_scans_are_rate_limited(app, client, centre, zhang, monkeypatch):
    from backend.extensions import limiter

    monkeypatch.setitem(app.config, "SCAN_RATE_LIMIT", "3 per minute")
    limiter.reset()
    statuses = [scan(client, zhang, "https://x/q/" + "A" * 32).status_code for _ in range(4)]
    limiter.reset()
    assert statuses == [404, 404, 404, 429]


def test_landing_page_hands_the_qr_to_the_miniapp_and_reveals_nothing_about_the_unit(client, centre):
    created = request_qr(centre)
    path = "/q/" + created["qr_text"].rsplit("/q/", 1)[1]
    page = client.get(path)
    assert page.status_code == 303
    target = page.headers["Location"]
    assert target.startswith("/app/#/scan?qr=")
    from urllib.parse import unquote

    assert unquote(target.split("qr=", 1)[1]) == created["qr_text"]
    assert centre.name not in page.get_data(as_text=True) and "no-store" in page.headers["Cache-Control"]


def test_landing_page_of_a_malformed_token_goes_to_the_miniapp_home(client):
    page = client.get("/q/short")
    assert page.status_code == 303 and page.headers["Location"] == "/app/"


def test_malformed_receipt_keys_are_422_not_500(client, centre, zhang):
    created = request_qr(centre)
    scan(client, zhang, created["qr_text"])
    resp = approve(client, zhang, created["id"], ["not-a-key"])
    assert resp.status_code == 422 and "{code}-{number}" in str(resp.json["errors"])
