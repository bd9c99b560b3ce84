"""Demo data for the embedded default, pushed through the real HTTP paths.

An operator registers the demo hospitals through the admin API; each hospital signs its
receipts with its own key and delivers them through the signed issuer webhook, exactly as
a hospital's billing system would: 三亚中心医院 as SM2-sealed national data files, the
others as ES256-sealed JSON. Nothing is written to tables directly. Credentials
and the hospitals' keys are kept in the instance folder so seeding again is a no-op.
"""
import base64
import json
import os
import time
import uuid
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from standardwebhooks import Webhook

from backend import datafile
from backend.common.instance_secrets import new_ec_private_pem
from backend.demo.receipts import DEMO_HOSPITALS, demo_plan
from backend.receipts import sm2
from backend.receipts.signing import canonical_bytes, sign_es256

STATE_FILE = "demo_state.json"


class SeedError(RuntimeError):
    pass


def _expect(resp, *statuses):
    if resp.status_code not in statuses:
        raise SeedError(f"{resp.request.method} {resp.request.path} answered {resp.status_code}: {resp.get_data(as_text=True)}")
    return resp.get_json()


def _load_state(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _save_state(path: Path, state: dict):
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(state, fh, ensure_ascii=False, indent=2)
    tmp.replace(path)


def _operator(client, state) -> dict:
    from backend.clients.services import create_operator

    if "operator" not in state:
        state["operator"] = create_operator("海南省财政厅（演示）")
    token = _expect(client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials", **state["operator"]}), 200)
    return {"Authorization": f"Bearer {token['access_token']}"}


def _hospital(client, headers, state, spec) -> dict:
    hospitals = state.setdefault("hospitals", {})
    known = hospitals.get(spec["credit_code"])
    if known:
        return known
    if spec.get("data_file"):
        alg, private = "SM2", sm2.generate_private_key()
        pem, public = private.to_pem(), private.public_key.to_pem()
    else:
        alg, pem = "ES256", new_ec_private_pem()
        public = serialization.load_pem_private_key(pem.encode(), None).public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    created = _expect(client.post("/api/v1/admin/issuers", headers=headers, json={
        "name": spec["name"], "credit_code": spec["credit_code"], "province": "46", "public_key_pem": public, "alg": alg}), 201)
    hospitals[spec["credit_code"]] = {"issuer_id": created["id"], "webhook_secret": created["webhook_secret"], "private_key_pem": pem,
                                      "alg": alg}
    return hospitals[spec["credit_code"]]


DEMO_UNITS = [
    {"name": "三亚市医疗保障局（演示柜台）", "credit_code": "11460200MB1234567X", "kind": "social_insurance", "province": "46"},
    {"name": "中国人寿海南分公司（演示）", "credit_code": "91460000MA5T123456", "kind": "commercial_insurer", "province": "46"},
]


# Demo units of other provinces' nodes (the federation demo): a Guangdong counter and insurer.
PROVINCE_UNITS = {
    "44": {"social_insurance": {"name": "广州市医疗保障局（演示柜台）", "credit_code": "11440100MB1234567X"},
           "commercial_insurer": {"name": "中国人寿广东省分公司（演示）", "credit_code": "91440000MA5T123456"}},
    "42": {"social_insurance": {"name": "武汉市医疗保障局（演示柜台）", "credit_code": "11420100MB1234567X"},
           "commercial_insurer": {"name": "中国人寿湖北省分公司（演示）", "credit_code": "91420000MA5T123456"}},
}


def _unit(client, headers, state, spec) -> dict:
    """A reimbursing unit with its API client, for the counter console."""
    units = state.setdefault("units", {})
    if spec["credit_code"] not in units:
        created = _expect(client.post("/api/v1/admin/units", headers=headers, json=spec), 201)
        units[spec["credit_code"]] = {"name": spec["name"], "client_id": created["client_id"], "client_secret": created["client_secret"]}
    return units[spec["credit_code"]]


def _deliver(client, hospital: dict, event_type: str, data: dict) -> dict:
    body = json.dumps({"type": event_type, "data": data}, ensure_ascii=False)
    msg_id = f"msg_demo_{uuid.uuid5(uuid.NAMESPACE_URL, event_type + body).hex}"
    timestamp = int(time.time())
    from datetime import datetime, timezone

    signature = Webhook(hospital["webhook_secret"]).sign(msg_id, datetime.fromtimestamp(timestamp, timezone.utc), body)
    resp = client.post(f"/api/v1/issuers/{hospital['issuer_id']}/webhook", data=body.encode(), headers={
        "content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature})
    return _expect(resp, 202)


def _sealed(hospital: dict, receipt: dict) -> dict:
    """What the hospital's billing system pushes: an SM2-sealed data file, or sealed JSON
    (a state file from before data files keeps its hospital's ES256 key and JSON)."""
    if hospital.get("alg") == "SM2":
        xml = datafile.from_receipt(receipt, header_id=f"HIS-{receipt['code']}-{receipt['number']}")
        sealed = datafile.sign_invoicing_party(xml, "SM2", sm2.load_private_key(hospital["private_key_pem"]), serial="HIS-SM2-01")
        return {"data_file": base64.b64encode(sealed).decode("ascii")}
    key = serialization.load_pem_private_key(hospital["private_key_pem"].encode(), None)
    return {**receipt, "signature": {"alg": "ES256", "value": sign_es256(key, canonical_bytes(receipt))}}


def seed_demo(app, units_only: bool = False) -> dict:
    """Seeds the demo data; returns a summary with the demo credentials. `units_only`: just
    the operator and the reimbursing units (their province is this node's)."""
    path = Path(app.instance_path) / STATE_FILE
    state = _load_state(path)
    client = app.test_client()
    headers = _operator(client, state)
    _save_state(path, state)
    province = app.config["NODE_PROVINCE"]
    units = [_unit(client, headers, state, {**spec, **PROVINCE_UNITS.get(province, {}).get(spec["kind"], {}), "province": province})
             for spec in DEMO_UNITS]
    _save_state(path, state)
    if units_only:
        return {"operator": state["operator"], "hospitals": {}, "units": units, "receipts": 0, "newly_applied": 0}
    by_code = {spec["credit_code"]: _hospital(client, headers, state, spec) for spec in DEMO_HOSPITALS}
    _save_state(path, state)

    applied = 0
    plan = demo_plan()
    for spec, receipt in plan:
        hospital = by_code[spec["credit_code"]]
        applied += _deliver(client, hospital, "receipt.issued", _sealed(hospital, receipt))["result"] == "applied"
    # One red reversal, so the wallet shows more than one status.
    spec, reversed_receipt = plan[2]
    _deliver(client, by_code[spec["credit_code"]], "receipt.red_reversed", {
        "code": reversed_receipt["code"], "number": reversed_receipt["number"], "reason": "收费项目录入错误，已重新开具",
        "red_receipt": {"code": reversed_receipt["code"], "number": "09" + reversed_receipt["number"][2:], "check_code": "RED001"}})
    return {
        "operator": state["operator"],
        "hospitals": {spec["name"]: by_code[spec["credit_code"]]["issuer_id"] for spec in DEMO_HOSPITALS},
        "units": units,
        "receipts": len(plan),
        "newly_applied": applied,
    }
