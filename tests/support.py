"""Test actors that talk to the API only as outside systems would.

`Hospital` is an issuer's billing system written from DESIGN.md alone: it signs receipts
with its own P-256 key over the RFC 8785 canonical JSON and delivers them with the
off-the-shelf `standardwebhooks` library.
"""
import base64
import copy
import json
import uuid
from datetime import datetime, timezone

import rfc8785
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from standardwebhooks import Webhook

SAMPLE_RECEIPT = {
    "code": "46060125", "number": "0000012345", "check_code": "7Kq9Zx",
    "title": "海南省医疗门诊收费票据（电子）", "kind": "outpatient",
    "issue_date": "2025-11-20", "issued_at": "2025-11-20T10:15:00+08:00",
    "issuer": {"name": "三亚中心医院", "credit_code": "12460200428201234X"},
    "clerk": "王芳", "checker": "李强",
    "payer": {"name": "张三", "id_type": "resident_id", "id_number": "460200199001011234"},
    "total_amount": "356.80",
    "payments": {"fund_paid": "200.00", "account_paid": "50.00", "cash_paid": "106.80",
                 "other_paid": "0.00", "self_pay": "136.80", "self_expense": "20.00"},
    "visit": {"visit_type": "outpatient", "visit_date": "2025-11-20", "department": "内科",
              "medical_record_no": "MZ202511200001", "insurance_type": "职工基本医疗保险",
              "insurance_no": "H46020000012345", "institution_type": "综合医院"},
    "items": [
        {"code": "C0104", "name": "西药费", "quantity": "1", "unit": "项", "rate": "156.80", "amount": "156.80", "remark": ""},
        {"code": "C0107", "name": "检查费", "quantity": "1", "unit": "次", "rate": "120.00", "amount": "120.00", "remark": ""},
        {"code": "C0108", "name": "化验费", "quantity": "2", "unit": "次", "rate": "40.00", "amount": "80.00", "remark": ""},
    ],
}

ZHANG_SAN_ID = "460200199001011234"
LI_SI_ID = "460100198505052345"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


class Operator:
    """A fiscal operator with a Bearer token, created through the CLI's service."""

    def __init__(self, client, credentials):
        self.client = client
        self.credentials = credentials
        resp = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials", **credentials})
        assert resp.status_code == 200, resp.json
        self.headers = bearer(resp.json["access_token"])

    @classmethod
    def create(cls, client, name="海南省财政厅"):
        from backend.clients.services import create_operator

        return cls(client, create_operator(name))

    def register_hospital(self, name="三亚中心医院", credit_code="12460200428201234X", province="46"):
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        resp = self.client.post("/api/v1/admin/issuers", headers=self.headers, json={
            "name": name, "credit_code": credit_code, "province": province, "public_key_pem": pem, "alg": "ES256",
        })
        assert resp.status_code == 201, resp.json
        return Hospital(self.client, resp.json["id"], resp.json["webhook_secret"], key, name, credit_code)


def sign_es256(private_key, data: dict) -> dict:
    """The issuer's signature: ES256 over RFC 8785 canonical JSON of data without `signature`."""
    unsigned = {k: v for k, v in data.items() if k != "signature"}
    der = private_key.sign(rfc8785.dumps(unsigned), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return {**unsigned, "signature": {"alg": "ES256", "value": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}}


class Hospital:
    def __init__(self, client, issuer_id, secret, private_key, name, credit_code):
        self.client = client
        self.issuer_id = issuer_id
        self.secret = secret
        self.private_key = private_key
        self.name = name
        self.credit_code = credit_code
        self._serial = 0

    @property
    def url(self):
        return f"/api/v1/issuers/{self.issuer_id}/webhook"

    def receipt(self, payer_id=ZHANG_SAN_ID, payer_name="张三", number=None, **overrides) -> dict:
        """An unsigned outpatient receipt from this hospital (a fresh number each call)."""
        self._serial += 1
        data = copy.deepcopy(SAMPLE_RECEIPT)
        data["issuer"] = {"name": self.name, "credit_code": self.credit_code}
        data["payer"] = {"name": payer_name, "id_type": "resident_id", "id_number": payer_id}
        data["number"] = number or f"{uuid.uuid4().int % 10**10:010d}"
        data.update(overrides)
        return data

    def sign(self, data: dict) -> dict:
        return sign_es256(self.private_key, data)

    def headers(self, body: str, webhook_id=None, timestamp=None, secret=None):
        msg_id = webhook_id or f"msg_{uuid.uuid4().hex}"
        ts = timestamp or datetime.now(timezone.utc)
        signature = Webhook(secret or self.secret).sign(msg_id, ts, body)
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(ts.timestamp())),
            "webhook-signature": signature,
            "content-type": "application/json",
        }

    def post_raw(self, body: str, **header_kwargs):
        return self.client.post(self.url, data=body.encode(), headers=self.headers(body, **header_kwargs))

    def push(self, event_type: str, data: dict, **header_kwargs):
        body = json.dumps({"type": event_type, "data": data}, ensure_ascii=False)
        return self.post_raw(body, **header_kwargs)

    def issue(self, sign=True, webhook_id=None, timestamp=None, secret=None, **receipt_kwargs):
        """Pushes a newly issued receipt; returns (response, the receipt as sent)."""
        data = self.receipt(**receipt_kwargs)
        if sign:
            data = self.sign(data)
        return self.push("receipt.issued", data, webhook_id=webhook_id, timestamp=timestamp, secret=secret), data


class UnitClient:
    """A reimbursing unit's claim system, using only the unit API."""

    _serial = 0

    def __init__(self, client, unit_id, client_id, client_secret, name):
        self.client = client
        self.id = unit_id
        self.name = name
        self.client_id, self.client_secret = client_id, client_secret
        self.refresh_token()

    def refresh_token(self):
        resp = self.client.post("/api/v1/oauth/token", data={
            "grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret})
        assert resp.status_code == 200, resp.json
        self.headers = bearer(resp.json["access_token"])

    @classmethod
    def open(cls, operator, name=None, kind="social_insurance", credit_code=None):
        cls._serial += 1
        name = name or f"三亚市医疗保障局{cls._serial}"
        credit_code = credit_code or f"11460200MB{uuid.uuid4().int % 10**8:08d}"
        resp = operator.client.post("/api/v1/admin/units", headers=operator.headers, json={
            "name": name, "credit_code": credit_code, "kind": kind, "province": "46"})
        assert resp.status_code == 201, resp.json
        return cls(operator.client, resp.json["id"], resp.json["client_id"], resp.json["client_secret"], name)

    def post(self, path, json=None, idempotency_key=None, client=None):
        headers = dict(self.headers)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return (client or self.client).post(f"/api/v1/unit{path}", headers=headers, json=json)

    def get(self, path, client=None, **params):
        return (client or self.client).get(f"/api/v1/unit{path}", headers=self.headers, query_string=params)

    def lock(self, key, proof=None, **kw):
        return self.post(f"/receipts/{key}/lock", json=proof, **kw)

    def lock_with_proof(self, receipt: dict, **kw):
        key = f"{receipt['code']}-{receipt['number']}"
        return self.lock(key, {"check_code": receipt["check_code"], "total_amount": receipt["total_amount"]}, **kw)

    def feedback(self, key, lock_token, outcome="reimbursed", amount=None, **extra):
        body = {"lock_token": lock_token, "outcome": outcome, **extra}
        if amount is not None:
            body["amount"] = amount
        return self.post(f"/receipts/{key}/feedback", json=body)

    def unlock(self, key, lock_token, reason=None):
        return self.post(f"/receipts/{key}/unlock", json={"lock_token": lock_token, **({"reason": reason} if reason else {})})


def receipt_key(receipt: dict) -> str:
    return f"{receipt['code']}-{receipt['number']}"


def citizen_login(client, handle="zhangsan") -> dict:
    """Logs a demo citizen in through the real path: the demo identity provider signs a
    海易办-style assertion, which /auth/citizen verifies like any other. Returns headers."""
    assertion = client.post("/api/v1/demo/assertion", json={"citizen": handle})
    assert assertion.status_code == 200, assertion.get_data(as_text=True)
    tokens = client.post("/api/v1/auth/citizen", json={"assertion": assertion.json["assertion"]})
    assert tokens.status_code == 200, tokens.get_data(as_text=True)
    return bearer(tokens.json["access_token"])


class Bot:
    """The chat bot as the backend sees it: an API client of role `bot`."""

    def __init__(self, client):
        from backend.clients.services import create_client
        from backend.extensions import db

        api_client, secret = create_client("bot", "票夹助手")
        db.session.commit()
        self.client = client
        resp = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": api_client.client_id,
                                                         "client_secret": secret})
        self.headers = bearer(resp.json["access_token"])

    def redeem(self, code, external_id, channel="wechat"):
        return self.client.post("/api/v1/chat/bindings", headers=self.headers,
                                json={"code": code, "channel": channel, "external_id": external_id})

    def bind(self, citizen_headers, external_id, channel="wechat") -> dict:
        code = self.client.post("/api/v1/me/chat-binding-codes", headers=citizen_headers).json["code"]
        resp = self.redeem(code, external_id, channel)
        assert resp.status_code == 201, resp.json
        return resp.json
