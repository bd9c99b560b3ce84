"""The whole journey over real HTTP, each party written only from DESIGN.md: a hospital
pushing with the off-the-shelf `standardwebhooks` library, a citizen through the demo
identity provider, a social-insurance centre through the unit API — against a real
server socket (werkzeug's threaded server on loopback), not the test client."""
import base64
import json
import threading
import uuid
from datetime import datetime, timezone

import pytest
import requests
import rfc8785
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from standardwebhooks import Webhook
from werkzeug.serving import make_server

from tests.support import SAMPLE_RECEIPT


@pytest.fixture()
def base_url(app_ctx):
    server = make_server("127.0.0.1", 0, app_ctx, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def es256(private_key, data: dict) -> str:
    r, s = decode_dss_signature(private_key.sign(rfc8785.dumps(data), ec.ECDSA(hashes.SHA256())))
    return base64.urlsafe_b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).rstrip(b"=").decode()


def test_hospital_to_citizen_to_unit_over_http(app_ctx, base_url):
    http = requests.Session()
    ok = lambda resp, status=200: (resp.status_code == status or pytest.fail(resp.text)) and resp.json()  # noqa: E731

    # The finance department bootstraps an operator and registers the hospital.
    creds = json.loads(app_ctx.test_cli_runner().invoke(args=["create-operator", "海南省财政厅"]).output)
    op_token = ok(http.post(f"{base_url}/api/v1/oauth/token", data={"grant_type": "client_credentials", **creds}))["access_token"]
    op = {"Authorization": f"Bearer {op_token}"}
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    issuer = ok(http.post(f"{base_url}/api/v1/admin/issuers", headers=op, json={
        "name": "三亚中心医院", "credit_code": "12460200428201234X", "province": "46", "public_key_pem": pem, "alg": "ES256"}), 201)

    # The hospital's billing system issues a receipt.
    receipt = {**SAMPLE_RECEIPT, "number": "0000088888"}
    receipt["signature"] = {"alg": "ES256", "value": es256(key, receipt)}
    body = json.dumps({"type": "receipt.issued", "data": receipt}, ensure_ascii=False)
    msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(timezone.utc)
    headers = {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(issuer["webhook_secret"]).sign(msg_id, now, body)}
    accepted = ok(http.post(f"{base_url}/api/v1/issuers/{issuer['id']}/webhook", data=body.encode(), headers=headers), 202)
    key_ = accepted["key"]

    # The citizen signs in and finds it in the wallet.
    assertion = ok(http.post(f"{base_url}/api/v1/demo/assertion", json={"citizen": "zhangsan"}))["assertion"]
    me = {"Authorization": "Bearer " + ok(http.post(f"{base_url}/api/v1/auth/citizen", json={"assertion": assertion}))["access_token"]}
    wallet = ok(http.get(f"{base_url}/api/v1/me/receipts", headers=me))
    assert [r["key"] for r in wallet["items"]] == [key_] and wallet["items"][0]["display_status"] == "正常"

    # The social-insurance centre shows a QR code; the citizen authorizes the receipt.
    unit = ok(http.post(f"{base_url}/api/v1/admin/units", headers=op, json={
        "name": "三亚市医疗保障局", "credit_code": "11460200MB12345678", "kind": "social_insurance", "province": "46"}), 201)
    unit_token = ok(http.post(f"{base_url}/api/v1/oauth/token", auth=(unit["client_id"], unit["client_secret"]),
                              data={"grant_type": "client_credentials"}))["access_token"]
    u = {"Authorization": f"Bearer {unit_token}"}
    qr = ok(http.post(f"{base_url}/api/v1/unit/authorization-requests", headers=u, json={"purpose": "医保零星报销", "reference": "LX-1"}), 201)
    assert http.get(qr["qr_png_url"], headers=u).content.startswith(b"\x89PNG")
    scanned = ok(http.post(f"{base_url}/api/v1/me/scans", headers=me, json={"qr_text": qr["qr_text"]}))
    assert scanned["unit"]["name"] == "三亚市医疗保障局"
    ok(http.post(f"{base_url}/api/v1/me/authorization-requests/{scanned['id']}/approve", headers=me, json={"receipt_keys": [key_]}))
    assert ok(http.get(f"{base_url}/api/v1/unit/authorization-requests/{qr['id']}", headers=u))["receipt_keys"] == [key_]

    # The centre locks, reimburses and reports back; the citizen sees the result.
    lock = ok(http.post(f"{base_url}/api/v1/unit/receipts/{key_}/lock", headers={**u, "Idempotency-Key": "LX-1-lock"}), 201)
    fed = ok(http.post(f"{base_url}/api/v1/unit/receipts/{key_}/feedback", headers=u, json={
        "lock_token": lock["lock_token"], "outcome": "reimbursed", "amount": "200.00", "reference": "LX-1"}), 201)
    assert fed["remaining_amount"] == "156.80"
    claims = ok(http.get(f"{base_url}/api/v1/me/claims", headers=me))["items"]
    assert [(c["status"], c["amount"]) for c in claims] == [("已报销", "200.00")]
    inbox = ok(http.get(f"{base_url}/api/v1/me/notifications", headers=me))
    assert "报销已到账" in [n["title"] for n in inbox["items"]]
    public = ok(http.post(f"{base_url}/api/v1/verify", json={k: receipt[k] for k in ("code", "number", "check_code", "issue_date", "total_amount")}))
    assert public == {**public, "authentic": True, "display_status": "部分报销"}
