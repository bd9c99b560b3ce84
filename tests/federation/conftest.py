"""The federation cluster, shared by the federation test modules: a hub and three
provincial nodes (46 Hainan, 44 Guangdong, 42 Hubei) as real processes, each with its own
database and keys, a Hainan hospital pushing to node 46, and units on nodes 44 and 42."""
import copy
import json
import time
import uuid
from datetime import datetime, timezone

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from standardwebhooks import Webhook

from tests.federation.cluster import Process
from tests.support import SAMPLE_RECEIPT, ZHANG_SAN_ID, sign_es256

# The hub's cap on payer subscriptions per node (tests/federation/test_federation_trust.py
# reaches it from a node of its own).
SUBSCRIPTIONS_PER_NODE = 40

HOSPITAL = {"name": "三亚中心医院", "credit_code": "12460200428201234X"}


class Hospital:
    """A Hainan hospital's billing system pushing to node 46 with standardwebhooks."""

    def __init__(self, node: Process, operator: dict):
        self.node = node
        self.key = ec.generate_private_key(ec.SECP256R1())
        pem = self.key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        created = requests.post(node.url + "/api/v1/admin/issuers", headers=operator, json={**HOSPITAL, "province": "46",
                                                                                         "public_key_pem": pem, "alg": "ES256"})
        assert created.status_code == 201, created.text
        self.issuer_id, self.secret = created.json()["id"], created.json()["webhook_secret"]

    def push(self, event_type: str, data: dict) -> requests.Response:
        body = json.dumps({"type": event_type, "data": data}, ensure_ascii=False)
        msg_id = f"msg_{uuid.uuid4().hex}"
        now = datetime.now(timezone.utc)
        headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": Webhook(self.secret).sign(msg_id, now, body), "content-type": "application/json"}
        return requests.post(f"{self.node.url}/api/v1/issuers/{self.issuer_id}/webhook", data=body.encode(), headers=headers)

    def issue(self) -> dict:
        data = copy.deepcopy(SAMPLE_RECEIPT)
        data["issuer"] = dict(HOSPITAL)
        data["payer"] = {"name": "张三", "id_type": "resident_id", "id_number": ZHANG_SAN_ID}
        data["number"] = f"{uuid.uuid4().int % 10**10:010d}"
        signed = sign_es256(self.key, data)
        resp = self.push("receipt.issued", signed)
        assert resp.status_code == 202, resp.text
        return signed


def key_of(receipt: dict) -> str:
    return f"{receipt['code']}-{receipt['number']}"


def wait_until(predicate, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("federation")
    hub = Process("hub", "hub", "00", folder, FEDERATION_SUBSCRIPTIONS_PER_NODE=f"{SUBSCRIPTIONS_PER_NODE}/hour").start()
    nodes = {p: Process(f"n{p}", "node", p, folder, hub_url=hub.url).start() for p in ("46", "44", "42")}
    for province, node in nodes.items():
        entry = json.loads(hub.cli("federation", "add-node", province, node.url))
        assert entry["province"] == province and entry["keys"][0]["valid"]
    listed = json.loads(hub.cli("federation", "nodes"))
    assert [n["province"] for n in listed["nodes"]] == ["42", "44", "46"]
    hub_operator = hub.operator()
    assert [n["province"] for n in requests.get(hub.url + "/api/v1/admin/federation/nodes", headers=hub_operator).json()["nodes"]] == ["42", "44", "46"]
    operators = {p: n.operator() for p, n in nodes.items()}
    world = {"hub": hub, "nodes": nodes, "operators": operators, "hospital": Hospital(nodes["46"], operators["46"]),
             "hub_operator": hub_operator}
    world["units"] = {
        "44": nodes["44"].unit(operators["44"], "广州市医疗保障局", "11440100MB0000001X"),
        "42": nodes["42"].unit(operators["42"], "武汉市医疗保障局", "11420100MB0000002X"),
        "44b": nodes["44"].unit(operators["44"], "中国人寿广东分公司", "91440000MA5T000003", kind="commercial_insurer"),
    }
    yield world
    for node in nodes.values():
        node.stop()
    hub.stop()


def wallet(node: Process, headers: dict) -> dict:
    return {r["key"]: r for r in requests.get(node.url + "/api/v1/me/receipts", headers=headers).json()["items"]}
