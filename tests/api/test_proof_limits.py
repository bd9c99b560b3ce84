"""Guessing limits that cost the guesser, not the holder (issue 17, item 8): wrong check codes
count against their source first (address, unit client), a receipt is closed to anonymous
proof only after wrong guesses from many sources, units and the signed-in payer still prove
possession then, and a valid identity assertion signs in whatever its address did before."""
import time

import jwt
import pytest

from tests.api.test_citizen_auth import claims, demo_key, demo_kid, login
from tests.support import LI_SI_ID, ZHANG_SAN_ID, UnitClient, citizen_login, receipt_key


@pytest.fixture()
def sent(operator):
    return operator.register_hospital().issue(payer_id=ZHANG_SAN_ID)[1]


@pytest.fixture()
def unlimited_verify(app, monkeypatch):
    """The plain per-minute rate limit of /verify is another matter: out of the way here."""
    monkeypatch.setitem(app.config, "VERIFY_RATE_LIMIT", "10000 per minute")


def elements(receipt, **changes):
    return {**{k: receipt[k] for k in ("code", "number", "check_code", "issue_date", "total_amount")}, **changes}


def verify(client, body, address, headers=None):
    return client.post("/api/v1/verify", json=body, environ_base={"REMOTE_ADDR": address}, headers=headers or {})


def authentic(resp) -> bool:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.json["authentic"]


def wrong(receipt):
    return elements(receipt, check_code="ZZZZZZ" if receipt["check_code"] != "ZZZZZZ" else "YYYYYY")


def problem_code(resp):
    assert resp.status_code == 429 and resp.mimetype == "application/problem+json", resp.get_data(as_text=True)
    assert int(resp.headers["Retry-After"]) > 0
    return resp.json["code"]


def test_wrong_guesses_from_one_address_stop_that_address_not_the_holder(client, operator, sent, unlimited_verify):
    for _ in range(5):
        assert verify(client, wrong(sent), "198.51.100.7").json == {"authentic": False}
    # The holder elsewhere, and a unit in interface mode, still prove possession.
    assert authentic(verify(client, elements(sent), "203.0.113.20")) is True
    assert problem_code(verify(client, elements(sent), "198.51.100.7")) == "too_many_attempts"
    unit = UnitClient.open(operator)
    batch = unit.post("/receipts/verify", json={"items": [{k: sent[k] for k in ("code", "number", "check_code", "total_amount")}]})
    assert batch.status_code == 200 and batch.json["items"][0]["authentic"] is True
    assert unit.lock_with_proof(sent).status_code == 201
    assert client.get("/api/v1/admin/proof-lockouts", headers=operator.headers).json["items"] == []


def test_an_exhausted_address_does_not_stop_a_unit_behind_it(client, operator, sent, unlimited_verify):
    """A unit behind the same NAT as a guesser is counted as its client, not as the address."""
    shared = "198.51.100.8"
    for number in range(60):  # spread over (unknown) receipts: the address's own limit runs out
        assert verify(client, wrong(sent) | {"number": f"{9000000000 + number}"}, shared).status_code == 200
    assert problem_code(verify(client, elements(sent), shared)) == "too_many_attempts"
    unit = UnitClient.open(operator)
    item = {k: sent[k] for k in ("code", "number", "check_code", "total_amount")}
    batch = unit.client.post("/api/v1/unit/receipts/verify", json={"items": [item]}, headers=unit.headers,
                             environ_base={"REMOTE_ADDR": shared})
    assert batch.status_code == 200 and batch.json["items"][0]["authentic"] is True
    locked = unit.client.post(f"/api/v1/unit/receipts/{receipt_key(sent)}/lock", headers=unit.headers,
                              json={"check_code": sent["check_code"], "total_amount": sent["total_amount"]},
                              environ_base={"REMOTE_ADDR": shared})
    assert locked.status_code == 201, locked.json


def test_one_ipv6_host_is_one_source(client, sent, unlimited_verify):
    for host in range(1, 6):
        assert verify(client, wrong(sent), f"2001:db8:0:7::{host}").status_code == 200
    assert problem_code(verify(client, elements(sent), "2001:db8:0:7::99")) == "too_many_attempts"
    assert authentic(verify(client, elements(sent), "2001:db8:0:8::1")) is True


def test_many_sources_close_the_receipt_to_anonymous_proof_but_not_to_units_or_its_payer(app, client, operator, sent,
                                                                                         unlimited_verify):
    sources = int(app.config.get("PROOF_SOURCES_PER_RECEIPT", "20 per day").split()[0])
    for n in range(sources - 1):
        assert verify(client, wrong(sent), f"192.0.2.{n + 1}").status_code == 200
    assert authentic(verify(client, elements(sent), "203.0.113.30")) is True  # not yet
    assert verify(client, wrong(sent), "192.0.2.200").status_code == 200  # the last source it takes
    assert problem_code(verify(client, elements(sent), "203.0.113.31")) == "proof_locked"
    key = receipt_key(sent)
    assert [item["key"] for item in client.get("/api/v1/admin/proof-lockouts", headers=operator.headers).json["items"]] == [key]
    # The payer, signed in, and a unit with the right check code still prove possession.
    payer = verify(client, elements(sent), "203.0.113.31", headers=citizen_login(client, "zhangsan"))
    assert payer.status_code == 200 and payer.json["authentic"] is True
    someone_else = verify(client, elements(sent), "203.0.113.32", headers=citizen_login(client, "lisi"))
    assert problem_code(someone_else) == "proof_locked"
    unit = UnitClient.open(operator)
    assert unit.lock_with_proof(sent).status_code == 201
    # The operator lifts it: anonymous proof works again.
    assert client.delete(f"/api/v1/admin/proof-lockouts/{key}", headers=operator.headers).status_code == 204
    assert authentic(verify(client, elements(sent), "203.0.113.33")) is True


def test_a_unit_is_limited_on_one_receipt_by_its_own_failures_only(client, operator, sent):
    guesser, honest = UnitClient.open(operator), UnitClient.open(operator)
    bad = {"check_code": "ZZZZZZ", "total_amount": sent["total_amount"]}
    for _ in range(5):
        assert guesser.lock(receipt_key(sent), bad).status_code == 404
    assert problem_code(guesser.lock_with_proof(sent)) == "too_many_attempts"
    assert honest.lock_with_proof(sent).status_code == 201


def test_right_answers_never_count(client, operator, sent, unlimited_verify):
    unit = UnitClient.open(operator)
    item = {k: sent[k] for k in ("code", "number", "check_code", "total_amount")}
    for _ in range(12):
        assert authentic(verify(client, elements(sent), "198.51.100.9")) is True
        assert unit.post("/receipts/verify", json={"items": [item]}).json["items"][0]["authentic"] is True


def test_a_valid_assertion_signs_in_from_an_address_over_its_failure_limit(app, client):
    for _ in range(20):
        assert login(client, "a.b.c").status_code == 401
    assert problem_code(login(client, "a.b.c")) == "too_many_attempts"  # garbage: refused cheaply
    valid = jwt.encode(claims(), demo_key(app), algorithm="ES256", headers={"kid": demo_kid(client)})
    signed_in = login(client, valid)
    assert signed_in.status_code == 200 and signed_in.json["token_type"] == "Bearer"
    # Plausible but forged (another key): checked, counted, refused like garbage.
    from cryptography.hazmat.primitives.asymmetric import ec

    forged = jwt.encode(claims(id_number=LI_SI_ID), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256",
                        headers={"kid": demo_kid(client)})
    assert problem_code(login(client, forged)) == "too_many_attempts"
    expired = jwt.encode(claims(iat=int(time.time()) - 900, exp=int(time.time()) - 600), demo_key(app), algorithm="ES256",
                         headers={"kid": demo_kid(client)})
    assert problem_code(login(client, expired)) == "too_many_attempts"
