"""Issuer seal keys (DESIGN §5 admin: "issuers (register, keys, …)"): a hospital rolls a
new signing key out with an overlap, and an operator can retire a key at once."""
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from backend.common.models import utcnow
from backend.extensions import db
from backend.issuers.models import IssuerKey


def new_key():
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, pem


@pytest.fixture()
def hospital(operator):
    return operator.register_hospital()


def keys_url(hospital):
    return f"/api/v1/admin/issuers/{hospital.issuer_id}/keys"


def issue_with(hospital, private_key):
    hospital.private_key = private_key
    resp, _ = hospital.issue()
    return resp


def test_registration_key_is_listed_with_its_fingerprint(client, operator, hospital):
    (key,) = client.get(keys_url(hospital), headers=operator.headers).json
    assert key["valid"] is True and key["expires_at"] is None and key["alg"] == "ES256" and len(key["fingerprint"]) == 64
    assert client.get(f"/api/v1/admin/issuers/{hospital.issuer_id}", headers=operator.headers).json["alg"] == "ES256"


def test_rotation_with_overlap_accepts_both_keys_until_the_old_one_expires(client, operator, hospital):
    old_private = hospital.private_key
    new_private, pem = new_key()
    resp = client.post(keys_url(hospital), headers=operator.headers, json={"public_key_pem": pem, "overlap_hours": 24})
    assert resp.status_code == 201 and resp.json["valid"] is True
    keys = client.get(keys_url(hospital), headers=operator.headers).json
    assert [k["id"] for k in keys][0] == resp.json["id"] and keys[1]["expires_at"] is not None and keys[1]["valid"] is True
    assert issue_with(hospital, new_private).status_code == 202
    assert issue_with(hospital, old_private).status_code == 202  # the hospital's other systems still switching
    # The overlap ends: the old key no longer verifies.
    old = db.session.get(IssuerKey, keys[1]["id"])
    old.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    refused = issue_with(hospital, old_private)
    assert refused.status_code == 422 and refused.json["code"] == "invalid_receipt_signature"
    assert issue_with(hospital, new_private).status_code == 202


def test_rotation_without_overlap_and_retiring_a_key(client, operator, hospital):
    old_private = hospital.private_key
    new_private, pem = new_key()
    assert client.post(keys_url(hospital), headers=operator.headers, json={"public_key_pem": pem, "overlap_hours": 0}).status_code == 201
    assert issue_with(hospital, old_private).status_code == 422
    newest = client.get(keys_url(hospital), headers=operator.headers).json[0]
    retired = client.post(f"{keys_url(hospital)}/{newest['id']}/retire", headers=operator.headers)
    assert retired.status_code == 200 and retired.json["valid"] is False
    assert issue_with(hospital, new_private).status_code == 422  # no valid key: nothing verifies


@pytest.mark.parametrize("body,status,code", [
    ({"public_key_pem": "not a key"}, 422, "invalid_public_key"),
    ({"public_key_pem": "PEM", "alg": "RS256"}, 422, "unsupported_alg"),
    ({"public_key_pem": "PEM", "overlap_hours": -1}, 422, "validation_failed"),
])
def test_bad_keys_are_refused_and_change_nothing(client, operator, hospital, body, status, code):
    _, pem = new_key()
    body = {k: (pem if v == "PEM" else v) for k, v in body.items()}
    before = client.get(keys_url(hospital), headers=operator.headers).json
    resp = client.post(keys_url(hospital), headers=operator.headers, json=body)
    assert resp.status_code == status and resp.json["code"] == code, resp.json
    assert client.get(keys_url(hospital), headers=operator.headers).json == before


def test_the_same_key_twice_is_409(client, operator, hospital):
    _, pem = new_key()
    assert client.post(keys_url(hospital), headers=operator.headers, json={"public_key_pem": pem}).status_code == 201
    resp = client.post(keys_url(hospital), headers=operator.headers, json={"public_key_pem": pem})
    assert resp.status_code == 409 and resp.json["code"] == "key_exists"


def test_unknown_key_or_issuer_is_404_and_keys_need_an_operator(client, operator, hospital):
    assert client.post(f"{keys_url(hospital)}/nope/retire", headers=operator.headers).json["code"] == "key_not_found"
    assert client.get("/api/v1/admin/issuers/nope/keys", headers=operator.headers).status_code == 404
    assert client.get(keys_url(hospital)).status_code == 401
