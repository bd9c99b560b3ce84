"""Federation with real processes (the cluster of tests/federation/conftest.py: a hub and
nodes 46, 44 and 42, each with its own database and keys), driven only over HTTP."""
import json
import threading
import time
import uuid

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.federation.cluster import Process
from tests.federation.cluster import key_of, wait_until, wallet
from tests.support import ZHANG_SAN_ID


def test_a_citizen_sees_receipts_issued_in_another_province_with_live_status(cluster):
    n46, n44, n42 = (cluster["nodes"][p] for p in ("46", "44", "42"))
    hospital = cluster["hospital"]
    before = hospital.issue()  # issued before 张三 ever signed in on node 44
    zhang44 = n44.citizen()
    copy44 = wait_until(lambda: wallet(n44, zhang44).get(key_of(before)), what="the earlier receipt pulled into node 44")
    assert copy44["province"] == "46" and copy44["synced_at"] and copy44["display_status"] == "正常"
    assert copy44["payer"]["id_number"] == ZHANG_SAN_ID  # the owner's own ID, on their own node
    after = hospital.issue()  # and one issued afterwards, announced through the hub
    wait_until(lambda: key_of(after) in wallet(n44, zhang44), what="the new receipt announced to node 44")
    inbox = requests.get(n44.url + "/api/v1/me/notifications", headers=zhang44).json()["items"]
    assert any(item["receipt_key"] == key_of(after) for item in inbox)  # pushed on node 44
    # The hub's statistics: keyed payer hashes only, the issuing and the account province indexed.
    stats = requests.get(cluster["hub"].url + "/api/v1/admin/federation/stats", headers=cluster["hub_operator"]).json()
    assert stats["nodes"] == 3 and stats["payers_indexed"] >= 1 and stats["index_entries"]["account"] >= 1
    assert stats["messages"]["receipt.announce"] >= 1 and stats["messages"]["payer.subscribe"] >= 1

    # A unit on node 44 (interface mode) locks, renews and reimburses part: node 46 decides.
    unit44 = cluster["units"]["44"]
    proof = {"check_code": after["check_code"], "total_amount": after["total_amount"]}
    locked = requests.post(f"{n44.url}/api/v1/unit/receipts/{key_of(after)}/lock", headers=unit44, json=proof)
    assert locked.status_code == 201, locked.text
    token = locked.json()["lock_token"]
    assert wallet(n44, zhang44)[key_of(after)]["display_status"] == "报销中"
    locked_filter = requests.get(n44.url + "/api/v1/me/receipts", headers=zhang44, params={"status": "locked"}).json()["items"]
    assert [r["key"] for r in locked_filter] == [key_of(after)]
    # A unit on node 42 cannot take it while node 44's unit holds it.
    other = requests.post(f"{n42.url}/api/v1/unit/receipts/{key_of(after)}/lock", headers=cluster["units"]["42"], json=proof)
    assert other.status_code == 409 and other.json()["code"] == "receipt_locked", other.text
    renewed = requests.post(f"{n44.url}/api/v1/unit/receipts/{key_of(after)}/renew", headers=unit44, json={"lock_token": token})
    assert renewed.status_code == 200, renewed.text
    paid = requests.post(f"{n44.url}/api/v1/unit/receipts/{key_of(after)}/feedback", headers=unit44, json={
        "lock_token": token, "outcome": "reimbursed", "amount": "200.00", "reference": "GD-2025-0001"})
    assert paid.status_code == 201, paid.text
    mine = wallet(n44, zhang44)[key_of(after)]
    assert mine["display_status"] == "部分报销" and mine["remaining_amount"] == "156.80"
    # Booking (入账) is decided by the issuing node too: once, across provinces.
    booked = requests.post(f"{n44.url}/api/v1/unit/receipts/{key_of(after)}/booking", headers=unit44,
                           json={"voucher_no": "粤记-0001", "booked_at": "2025-11-25T10:00:00+08:00", "amount": "200.00"})
    assert booked.status_code == 201, booked.text
    # Node 46 recorded it, and the issuer's reversal is refused while a unit works on it again.
    zhang46 = n46.citizen()
    at46 = wallet(n46, zhang46)[key_of(after)]
    assert at46["reimbursed_amount"] == "200.00" and "synced_at" not in at46
    too_much = requests.post(f"{n42.url}/api/v1/unit/receipts/{key_of(after)}/lock", headers=cluster["units"]["42"], json=proof)
    assert too_much.status_code == 201
    over = requests.post(f"{n42.url}/api/v1/unit/receipts/{key_of(after)}/feedback", headers=cluster["units"]["42"], json={
        "lock_token": too_much.json()["lock_token"], "outcome": "reimbursed", "amount": "200.00"})
    assert over.status_code == 409 and over.json()["code"] == "amount_exceeds_remaining", over.text
    reversal = hospital.push("receipt.red_reversed", {"code": after["code"], "number": after["number"], "reason": "录入错误",
                                                      "red_receipt": {"code": after["code"], "number": "0900000001", "check_code": "RED001"}})
    assert reversal.status_code == 409
    unlocked = requests.post(f"{n42.url}/api/v1/unit/receipts/{key_of(after)}/unlock", headers=cluster["units"]["42"],
                             json={"lock_token": too_much.json()["lock_token"], "reason": "超额"})
    assert unlocked.status_code == 200, unlocked.text
    wait_until(lambda: wallet(n44, zhang44)[key_of(after)]["display_status"] == "部分报销", what="node 44's copy unlocked again")


def test_qr_authorization_on_node_44_of_a_receipt_issued_on_node_46(cluster):
    n44 = cluster["nodes"]["44"]
    receipt = cluster["hospital"].issue()
    zhang44 = n44.citizen()
    wait_until(lambda: key_of(receipt) in wallet(n44, zhang44), what="the receipt on node 44")
    insurer = cluster["units"]["44b"]
    created = requests.post(n44.url + "/api/v1/unit/authorization-requests", headers=insurer,
                            json={"purpose": "商业保险理赔", "reference": "GD-CLAIM-9"}).json()
    scanned = requests.post(n44.url + "/api/v1/me/scans", headers=zhang44, json={"qr_text": created["qr_text"]})
    assert scanned.status_code == 200 and key_of(receipt) in [r["key"] for r in scanned.json()["eligible_receipts"]]
    approved = requests.post(f"{n44.url}/api/v1/me/authorization-requests/{scanned.json()['id']}/approve", headers=zhang44,
                             json={"receipt_keys": [key_of(receipt)]})
    assert approved.status_code == 200, approved.text
    locked = requests.post(f"{n44.url}/api/v1/unit/receipts/{key_of(receipt)}/lock", headers=insurer, json={})
    assert locked.status_code == 201, locked.text  # digital-account mode, decided by node 46
    assert requests.get(f"{n44.url}/api/v1/unit/receipts/{key_of(receipt)}", headers=insurer).json()["display_status"] == "报销中"
    # A unit it was not authorized to gets nothing in digital-account mode.
    refused = requests.post(f"{n44.url}/api/v1/unit/receipts/{key_of(receipt)}/lock", headers=cluster["units"]["44"], json={})
    assert refused.status_code == 404


def test_concurrent_locks_from_two_provinces_exactly_one_wins(cluster):
    receipt = cluster["hospital"].issue()
    proof = {"check_code": receipt["check_code"], "total_amount": receipt["total_amount"]}
    results = []

    def attempt(province, unit):
        node = cluster["nodes"][province]
        results.append(requests.post(f"{node.url}/api/v1/unit/receipts/{key_of(receipt)}/lock", headers=cluster["units"][unit],
                                     json=proof).status_code)

    threads = [threading.Thread(target=attempt, args=(p, u)) for p, u in [("44", "44"), ("42", "42")] * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results).count(201) == 1 and all(code in (201, 409) for code in results), results


def test_a_stopped_issuing_node_gives_a_clear_503_and_leaves_nothing_half_done(cluster):
    n46, n44 = cluster["nodes"]["46"], cluster["nodes"]["44"]
    receipt = cluster["hospital"].issue()
    proof = {"check_code": receipt["check_code"], "total_amount": receipt["total_amount"]}
    n46.stop()
    try:
        started = time.monotonic()
        resp = requests.post(f"{n44.url}/api/v1/unit/receipts/{key_of(receipt)}/lock", headers=cluster["units"]["44"], json=proof)
        elapsed = time.monotonic() - started
        assert resp.status_code == 503 and resp.json()["code"] == "issuing_node_unavailable", resp.text
        assert elapsed < 6, elapsed  # bounded by FEDERATION_TIMEOUT_SECONDS (2 s) per hop
    finally:
        n46.start()
    # Nothing was recorded: the same lock succeeds now, once.
    again = requests.post(f"{n44.url}/api/v1/unit/receipts/{key_of(receipt)}/lock", headers=cluster["units"]["44"], json=proof)
    assert again.status_code == 201, again.text


def test_a_slow_issuing_node_gives_a_503_and_a_late_lock_is_undone(cluster):
    """Node 46 frozen (SIGSTOP): the hub times out, the unit gets 503; when 46 wakes it may
    still grant the lock it had received — node 44's sweeper then has it undone."""
    import os
    import signal

    n46, n44 = cluster["nodes"]["46"], cluster["nodes"]["44"]
    receipt = cluster["hospital"].issue()
    proof = {"check_code": receipt["check_code"], "total_amount": receipt["total_amount"]}
    os.killpg(n46.proc.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        resp = requests.post(f"{n44.url}/api/v1/unit/receipts/{key_of(receipt)}/lock", headers=cluster["units"]["44"], json=proof)
        assert resp.status_code == 503 and resp.json()["code"] == "issuing_node_unavailable", resp.text
        assert time.monotonic() - started < 8
    finally:
        os.killpg(n46.proc.pid, signal.SIGCONT)
    # Whatever 46 did with the late request, after the sweep nothing is left locked.
    # Settled once 46 has answered the cancellation, at the latest when the request has expired
    # there (FEDERATION_MESSAGE_TTL_SECONDS=15 here, plus 30 s leeway).
    wait_until(lambda: json.loads(n44.cli("sweep")).get("cancellations", 1) == 0 or None, timeout=90, what="the cancellation to settle")
    other = requests.post(f"{cluster['nodes']['42'].url}/api/v1/unit/receipts/{key_of(receipt)}/lock", headers=cluster["units"]["42"],
                          json=proof)
    assert other.status_code == 201, other.text  # free again: the late lock was undone (or never made)
    requests.post(f"{cluster['nodes']['42'].url}/api/v1/unit/receipts/{key_of(receipt)}/unlock", headers=cluster["units"]["42"],
                  json={"lock_token": other.json()["lock_token"]})


def test_a_unit_verifies_receipts_of_several_provinces_in_one_batch(cluster):
    n44 = cluster["nodes"]["44"]
    receipt = cluster["hospital"].issue()
    items = [{"code": receipt["code"], "number": receipt["number"], "check_code": receipt["check_code"],
              "total_amount": receipt["total_amount"]},
             {"code": receipt["code"], "number": receipt["number"], "check_code": "ZZZZZZ", "total_amount": receipt["total_amount"]}]
    resp = requests.post(f"{n44.url}/api/v1/unit/receipts/verify", headers=cluster["units"]["44"], json={"items": items})
    assert resp.status_code == 200, resp.text
    outcomes = resp.json()["items"]
    assert [(o["index"], o["authentic"]) for o in outcomes] == [(0, True), (1, False)]
    assert outcomes[0]["display_status"] == "正常" and outcomes[0]["issuer"]["name"] == "三亚中心医院"


def test_a_stopped_hub_delays_announcements_which_then_arrive_once(cluster):
    hub, n46, n44 = cluster["hub"], cluster["nodes"]["46"], cluster["nodes"]["44"]
    zhang44 = n44.citizen()
    hub.stop()
    try:
        receipt = cluster["hospital"].issue()  # node 46 accepts it; the announcement waits
        time.sleep(0.5)
        assert key_of(receipt) not in wallet(n44, zhang44)
    finally:
        hub.start()
    # The announcement waits in node 46's outbox; its sweeper (here by hand: `flask sweep`)
    # sends it once it is a few seconds old and the hub is back.
    swept = wait_until(lambda: json.loads(n46.cli("sweep"))["announcements"], timeout=20, what="the sweeper to send it")
    assert swept >= 1
    wait_until(lambda: key_of(receipt) in wallet(n44, zhang44), what="the delayed announcement")
    assert json.loads(n46.cli("sweep"))["announcements"] == 0  # sent: nothing left waiting
    inbox = requests.get(n44.url + "/api/v1/me/notifications", headers=zhang44).json()["items"]
    assert sum(1 for item in inbox if item["receipt_key"] == key_of(receipt) and item["type"] == "receipt.issued") == 1


def _forge(node: Process, claims: dict, key_pem: bytes | None = None, kid: str | None = None) -> str:
    pem = key_pem or (node.folder / "federation_signing_key.pem").read_bytes()
    key = serialization.load_pem_private_key(pem, None)
    jwks = requests.get(node.url + "/api/v1/federation/jwks.json").json()
    now = int(time.time())
    payload = {"iss": node.province, "aud": "44", "jti": uuid.uuid4().hex, "iat": now, "exp": now + 10,
               "typ": "unit.verify", "body": {"unit": {}, "key": "x", "items": []}, **claims}
    return jwt.encode(payload, key, algorithm="ES256", headers={"kid": kid or jwks["keys"][0]["kid"]})


def _post(url: str, token: str) -> requests.Response:
    return requests.post(url + "/api/v1/federation/messages", data=token, headers={"content-type": "application/jose"})


def test_forged_replayed_expired_and_misaddressed_messages_are_refused(cluster):
    hub, n42, n44 = cluster["hub"], cluster["nodes"]["42"], cluster["nodes"]["44"]
    stranger = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    cases = {
        "unknown key": _forge(n42, {}, key_pem=stranger, kid="not-a-published-kid"),
        "key of another province": _forge(n42, {"iss": "46"}),
        "expired": _forge(n42, {"iat": int(time.time()) - 100, "exp": int(time.time()) - 90}),
        "too long-lived": _forge(n42, {"exp": int(time.time()) + 300}),
        "wrong audience": _forge(n42, {"aud": "46"}),
        "not ES256": jwt.encode({"iss": "42", "aud": "44", "jti": uuid.uuid4().hex}, "secret", algorithm="HS256",
                                headers={"kid": requests.get(n42.url + "/api/v1/federation/jwks.json").json()["keys"][0]["kid"]}),
    }
    for what, token in cases.items():
        resp = _post(n44.url, token)  # "wrong audience": addressed to 46, delivered to 44
        assert resp.status_code in (401, 422), (what, resp.status_code, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json"), what
    # A redelivered message gets the same answer; its id reused for other content is refused.
    jti = uuid.uuid4().hex
    first = _forge(n42, {"jti": jti, "body": {"unit": {"id": str(uuid.uuid4()), "name": "武汉市某单位", "credit_code": "11420100MB0000099X",
                                                        "kind": "social_insurance", "province": "42"}, "key": "x", "items": []}})
    a, b = _post(hub.url, first), _post(hub.url, first)
    assert a.status_code == b.status_code == 200
    body = lambda r: jwt.decode(r.text, options={"verify_signature": False})["body"]  # noqa: E731
    assert body(a) == body(b)
    replay = _forge(n42, {"jti": jti, "body": {"unit": {}, "key": "y", "items": []}})
    assert _post(hub.url, replay).status_code == 409
    # A node naming a unit it already named under another id gets a clear refusal, not an error.
    clash = _forge(n42, {"body": {"unit": {"id": str(uuid.uuid4()), "name": "武汉市某单位", "credit_code": "11420100MB0000099X",
                                           "kind": "social_insurance", "province": "42"}, "key": "x", "items": []}})
    answer = _post(hub.url, clash)
    assert answer.status_code == 200 and body(answer)["status"] == 409 and body(answer)["problem"]["code"] == "unit_identity_conflict"


def test_key_rotation_with_an_overlap(cluster):
    hub, n42 = cluster["hub"], cluster["nodes"]["42"]
    old_path = n42.folder / "federation_signing_key.pem"
    old_pem = old_path.read_bytes()
    new_path = n42.folder / "federation_signing_key.next.pem"
    new_path.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    kid_of = lambda: [k["kid"] for k in requests.get(n42.url + "/api/v1/federation/jwks.json").json()["keys"]]  # noqa: E731
    old_kid = kid_of()[0]
    unit = {"id": str(uuid.uuid4()), "name": "武汉市某保险公司", "credit_code": f"9142000{uuid.uuid4().int % 10**10:010d}X",
            "kind": "commercial_insurer", "province": "42"}

    def message(pem, kid):
        return _forge(n42, {"body": {"unit": unit, "key": "x", "items": []}}, key_pem=pem, kid=kid)

    # 1. The node switches to a new key and still publishes the old one; the hub picks both up.
    n42.stop()
    n42.env.update(FEDERATION_SIGNING_KEY=str(new_path), FEDERATION_PREVIOUS_SIGNING_KEYS=str(old_path))
    n42.start()
    new_kid = kid_of()[0]
    assert kid_of() == [new_kid, old_kid]
    entry = json.loads(hub.cli("federation", "refresh-node", "42"))
    assert {k["kid"]: k["valid"] for k in entry["keys"]} == {old_kid: True, new_kid: True}
    assert _post(hub.url, message(old_pem, old_kid)).status_code == 200  # in flight during the switch: still good
    assert _post(hub.url, message(new_path.read_bytes(), new_kid)).status_code == 200
    # 2. The overlap ends: the node stops publishing the old key, the hub retires it.
    n42.stop()
    n42.env.pop("FEDERATION_PREVIOUS_SIGNING_KEYS")
    n42.start()
    entry = json.loads(hub.cli("federation", "refresh-node", "42", FEDERATION_KEY_OVERLAP_SECONDS="0"))
    assert {k["kid"]: k["valid"] for k in entry["keys"]} == {old_kid: False, new_kid: True}
    refused = _post(hub.url, message(old_pem, old_kid))
    assert refused.status_code == 401 and refused.json()["code"] == "unknown_key"
    assert _post(hub.url, message(new_path.read_bytes(), new_kid)).status_code == 200


def test_a_citizen_downloads_the_data_file_of_a_receipt_issued_in_another_province(cluster):
    """The issuing node keeps the data file: node 44 asks node 46 for it on its citizen's
    behalf, and the file checks out at node 46 like any other."""
    n46, n44 = cluster["nodes"]["46"], cluster["nodes"]["44"]
    receipt = cluster["hospital"].issue()
    zhang44 = n44.citizen()
    wait_until(lambda: key_of(receipt) in wallet(n44, zhang44), what="the receipt on node 44")
    got = requests.get(f"{n44.url}/api/v1/me/receipts/{key_of(receipt)}/data-file", headers=zhang44, timeout=30)
    assert got.status_code == 200 and got.headers["content-type"].startswith("application/xml"), got.text
    assert b"<SupervisorPartySignature>" in got.content
    checked = requests.post(f"{n46.url}/api/v1/verify/data-file", data=got.content, headers={"content-type": "application/xml"},
                            timeout=30).json()
    assert checked["valid"] and checked["matches_stored"] and checked["key"] == key_of(receipt), checked
    # Another citizen of node 44 sees no such receipt, so gets no file.
    lisi44 = n44.citizen("lisi")
    assert requests.get(f"{n44.url}/api/v1/me/receipts/{key_of(receipt)}/data-file", headers=lisi44, timeout=30).status_code == 404
