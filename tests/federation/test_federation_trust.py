"""What one node may make another believe, with real processes: a lying node (in the
directory, signing with its own real key, saying what it likes), subscriptions that rest on
a stated sign-in, and a cancelled unit's lock on another province's receipt."""
import copy
import hashlib
import hmac
import uuid
from datetime import datetime, timedelta, timezone

import jwt
import pytest
import requests
from jwt.algorithms import ECAlgorithm

from tests.federation.cluster import PAYER_KEY
from tests.federation.cluster import key_of, wait_until, wallet
from tests.federation.conftest import SUBSCRIPTIONS_PER_NODE
from tests.federation.liar import LyingNode
from tests.support import ZHANG_SAN_ID

LIAR_PROVINCE = "43"


@pytest.fixture(scope="module")
def liar(cluster):
    node = LyingNode(LIAR_PROVINCE)
    cluster["hub"].cli("federation", "add-node", LIAR_PROVINCE, node.url)
    yield node
    node.stop()


def payer_fhash(id_number: str) -> str:
    return hmac.new(PAYER_KEY.encode(), f"resident_id:{id_number}".encode(), hashlib.sha256).hexdigest()


def lock(node, unit, key, proof):
    return requests.post(f"{node.url}/api/v1/unit/receipts/{key}/lock", headers=unit, json=proof, timeout=30)


def snapshot_like(receipt: dict, key: str, *, version: int, lifecycle="issued", total="99999.00") -> dict:
    code, number = key.split("-")
    entry = {"event": "receipt.issued", "at": "2025-11-20T02:15:00+00:00", "actor": {"type": "issuer", "id": None, "name": "某医院"},
             "reason": None, "data": {}}
    return {"key": key, "version": version, "last_event": "receipt.voided",
            "issuer": {"id": str(uuid.uuid4()), "name": "某医院", "credit_code": "12430100000000000X", "province": code[:2]},
            "receipt": {**copy.deepcopy(receipt), "code": code, "number": number, "total_amount": total},
            "status": {"lifecycle": lifecycle, "lifecycle_detail": None, "lock": None, "reimbursed_amount": "0.00"},
            "ledger": [], "timeline": [entry] * min(version, 1000)}


def test_a_lying_node_cannot_rewrite_another_provinces_receipt(cluster, liar):
    n44 = cluster["nodes"]["44"]
    unit44 = cluster["units"]["44"]
    genuine = cluster["hospital"].issue()  # issued in 46, synced to 张三's account on 44
    zhang44 = n44.citizen()
    before = wait_until(lambda: wallet(n44, zhang44).get(key_of(genuine)), what="the genuine copy on node 44")
    own_key = f"{LIAR_PROVINCE}060125-{uuid.uuid4().int % 10**10:010d}"
    proof = {"check_code": "ABC123", "total_amount": "356.80"}

    # 1. Asked about its own receipt, it answers with a snapshot of node 46's receipt:
    #    voided, version 10⁹, total 99999.00 — the probe's exact lie.
    lie = snapshot_like(genuine, key_of(genuine), version=10**9, lifecycle="voided")
    liar.answer = lambda claims: {"in_reply_to": claims["jti"], "status": 201,
                                  "result": {"key": claims["body"]["key"], "lock_token": "lk_lie", "snapshot": lie}}
    refused = lock(n44, unit44, own_key, proof)
    assert refused.status_code == 502 and refused.json()["code"] == "invalid_federation_answer", refused.text
    assert liar.received and liar.received[-1]["typ"] == "unit.lock"  # it was asked, and lied

    # 2. An answer to some other request (in_reply_to), or of another type, is not believed.
    honest_shape = snapshot_like(genuine, own_key, version=1)
    liar.answer = lambda claims: {"in_reply_to": uuid.uuid4().hex, "status": 201,
                                  "result": {"key": own_key, "lock_token": "lk_x", "snapshot": honest_shape}}
    assert lock(n44, unit44, own_key, proof).json()["code"] == "invalid_federation_answer"

    # 3. About its own receipt it may speak — but not with a version far ahead of the last.
    liar.answer = lambda claims: {"in_reply_to": claims["jti"], "status": 201,
                                  "result": {"key": own_key, "lock_token": "lk_1", "snapshot": honest_shape}}
    assert lock(n44, unit44, own_key, proof).status_code == 201
    leap = snapshot_like(genuine, own_key, version=1 + 500, lifecycle="voided")
    liar.answer = lambda claims: {"in_reply_to": claims["jti"], "status": 201,
                                  "result": {"key": own_key, "lock_token": "lk_2", "snapshot": leap}}
    assert lock(n44, unit44, own_key, proof).json()["code"] == "invalid_federation_answer"
    assert wallet(n44, zhang44)[own_key]["display_status"] != "已作废"

    # Node 46's receipt on node 44 is as it was, and node 46's genuine updates still land.
    after = wallet(n44, zhang44)[key_of(genuine)]
    assert (after["display_status"], after["total_amount"]) == (before["display_status"], before["total_amount"]) == ("正常", "356.80")
    real = lock(n44, unit44, key_of(genuine), {"check_code": genuine["check_code"], "total_amount": genuine["total_amount"]})
    assert real.status_code == 201, real.text
    assert wallet(n44, zhang44)[key_of(genuine)]["display_status"] == "报销中"
    requests.post(f"{n44.url}/api/v1/unit/receipts/{key_of(genuine)}/unlock", headers=unit44,
                  json={"lock_token": real.json()["lock_token"]}, timeout=30)


def test_a_subscription_rests_on_a_stated_recent_sign_in_is_audited_and_rate_limited(cluster, liar):
    hub, n44 = cluster["hub"], cluster["nodes"]["44"]
    cluster["hospital"].issue()
    zhang = payer_fhash(ZHANG_SAN_ID)
    # A node that merely guesses an ID number gets nothing.
    status, bare = liar.send(hub.url, "payer.subscribe", {"payer_fhash": zhang})
    assert status == 200 and bare["status"] == 403 and bare["problem"]["code"] == "subscription_refused", bare
    stale = {"at": (datetime.now(timezone.utc) - timedelta(hours=2)).isoformat(), "account_ref": uuid.uuid4().hex}
    _, old = liar.send(hub.url, "payer.subscribe", {"payer_fhash": zhang, "sign_in": stale})
    assert old["status"] == 403 and old["problem"]["code"] == "sign_in_not_recent", old

    # A genuine sign-in on node 44 subscribes, with its statement, and the hub keeps it.
    n44.citizen()
    audit = lambda province: requests.get(hub.url + "/api/v1/admin/federation/subscriptions", headers=cluster["hub_operator"],  # noqa: E731
                                          params={"province": province, "payer_fhash": zhang}, timeout=10).json()["items"]
    entry = wait_until(lambda: audit("44"), what="node 44's subscription in the hub's audit")[0]
    signed_in = datetime.fromisoformat(entry["signed_in_at"])
    assert abs((datetime.now(timezone.utc) - signed_in).total_seconds()) < 120 and len(entry["account_ref"]) >= 16
    statement = jwt.decode(entry["statement"], options={"verify_signature": False})
    assert (statement["iss"], statement["typ"], statement["body"]["payer_fhash"]) == ("44", "payer.subscribe", zhang)

    # A node that states a sign-in is answered — and is on record for it, with its signature.
    now = {"at": datetime.now(timezone.utc).isoformat(), "account_ref": uuid.uuid4().hex}
    _, accepted = liar.send(hub.url, "payer.subscribe", {"payer_fhash": zhang, "sign_in": now})
    assert accepted["status"] == 200, accepted
    (recorded,) = audit(LIAR_PROVINCE)
    assert recorded["account_ref"] == now["account_ref"]
    jwt.decode(recorded["statement"], ECAlgorithm.from_jwk(ECAlgorithm.to_jwk(liar.key.public_key())), algorithms=["ES256"],
               audience="hub")  # the hub kept the node's own signed words

    # And it cannot sweep through ID numbers: subscriptions per node are capped.
    answers = []
    for _ in range(SUBSCRIPTIONS_PER_NODE):
        fhash = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
        answers.append(liar.send(hub.url, "payer.subscribe", {"payer_fhash": fhash, "sign_in": now})[1]["status"])
    assert answers.count(200) == SUBSCRIPTIONS_PER_NODE - 1 and answers[-1] == 429, answers


def test_cancelling_a_unit_releases_its_lock_on_another_provinces_receipt(cluster):
    n46, n44 = cluster["nodes"]["46"], cluster["nodes"]["44"]
    operator44 = cluster["operators"]["44"]
    created = requests.post(n44.url + "/api/v1/admin/units", headers=operator44, json={
        "name": "深圳市某保险公司", "credit_code": f"9144030{uuid.uuid4().int % 10**10:010d}X", "kind": "commercial_insurer",
        "province": "44"}, timeout=10).json()
    token = requests.post(n44.url + "/api/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": created["client_id"],
                                                                  "client_secret": created["client_secret"]}, timeout=10).json()
    unit = {"Authorization": f"Bearer {token['access_token']}"}
    receipt = cluster["hospital"].issue()
    zhang44, zhang46 = n44.citizen(), n46.citizen()
    wait_until(lambda: key_of(receipt) in wallet(n44, zhang44), what="the receipt on node 44")
    locked = lock(n44, unit, key_of(receipt), {"check_code": receipt["check_code"], "total_amount": receipt["total_amount"]})
    assert locked.status_code == 201, locked.text
    assert wallet(n46, zhang46)[key_of(receipt)]["display_status"] == "报销中"

    cancelled = requests.post(f"{n44.url}/api/v1/admin/units/{created['id']}/cancel", headers=operator44, json={"reason": "退出试点"},
                              timeout=30)
    assert cancelled.status_code == 200, cancelled.text
    # Node 46 released it (the issuing node decides), and node 44's copy follows.
    wait_until(lambda: wallet(n46, zhang46)[key_of(receipt)]["display_status"] == "正常", what="the lock released on node 46")
    wait_until(lambda: wallet(n44, zhang44)[key_of(receipt)]["display_status"] == "正常", what="node 44's copy unlocked")
    detail = requests.get(f"{n46.url}/api/v1/me/receipts/{key_of(receipt)}", headers=zhang46, timeout=10).json()
    unlocked = [e for e in detail["timeline"] if e["event"] == "receipt.unlocked"]
    assert unlocked and unlocked[-1]["data"]["end_reason"] == "unit_cancelled" and unlocked[-1]["actor"]["type"] == "node"
    # Another unit may take it now.
    other = lock(cluster["nodes"]["42"], cluster["units"]["42"], key_of(receipt),
                 {"check_code": receipt["check_code"], "total_amount": receipt["total_amount"]})
    assert other.status_code == 201, other.text
    requests.post(f"{cluster['nodes']['42'].url}/api/v1/unit/receipts/{key_of(receipt)}/unlock", headers=cluster["units"]["42"],
                  json={"lock_token": other.json()["lock_token"]}, timeout=30)
