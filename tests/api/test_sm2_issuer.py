"""Issuers sealing with SM2 (SM2 with SM3, GB/T 32918.2): registration through the admin
API, receipts pushed through the signed webhook, refusals; and the node's supervision
signature in SM2 when PLATFORM_SIGNATURE_ALG says so.

The hospital here signs with the adapter (backend.receipts.sm2); tests/unit/test_sm2.py
shows the adapter agrees with the standard's examples, an independent implementation and
OpenSSL."""
import hashlib

import pytest
import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from backend.common.crypto import b64url_decode, b64url_encode
from backend.extensions import db
from backend.receipts import signing, sm2
from backend.receipts.models import Receipt
from tests.support import Hospital, sign_es256


def sign_sm2(key, data: dict, signer_id=sm2.DEFAULT_SIGNER_ID) -> dict:
    """The issuer's SM2 seal: r‖s over the canonical JSON of the receipt without `signature`."""
    unsigned = {k: v for k, v in data.items() if k != "signature"}
    value = sm2.sign(key, rfc8785.dumps(unsigned), signer_id=signer_id)
    return {**unsigned, "signature": {"alg": "SM2", "value": b64url_encode(value)}}


class SM2Hospital(Hospital):
    def sign(self, data: dict) -> dict:
        return sign_sm2(self.private_key, data)


def register(operator, public_key: str, alg="SM2", name="三亚中心医院", credit_code="12460200428201234X"):
    return operator.client.post("/api/v1/admin/issuers", headers=operator.headers, json={
        "name": name, "credit_code": credit_code, "province": "46", "public_key_pem": public_key, "alg": alg})


@pytest.fixture()
def sm2_hospital(operator):
    key = sm2.generate_private_key()
    resp = register(operator, key.public_key.to_pem())
    assert resp.status_code == 201, resp.json
    return SM2Hospital(operator.client, resp.json["id"], resp.json["webhook_secret"], key, "三亚中心医院", "12460200428201234X")


def keys_url(hospital):
    return f"/api/v1/admin/issuers/{hospital.issuer_id}/keys"


def stored():
    return db.session.scalar(select(func.count()).select_from(Receipt))


def assert_refused(resp):
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json" and resp.json["code"] == "invalid_receipt_signature"


def test_sm2_hospital_pushes_a_sealed_receipt(client, operator, sm2_hospital):
    (key,) = client.get(keys_url(sm2_hospital), headers=operator.headers).json
    assert key["alg"] == "SM2" and key["valid"] is True
    assert key["fingerprint"] == hashlib.sha256(sm2_hospital.private_key.public_key.to_der()).hexdigest()
    assert client.get(f"/api/v1/admin/issuers/{sm2_hospital.issuer_id}", headers=operator.headers).json["alg"] == "SM2"

    resp, sent = sm2_hospital.issue()
    assert resp.status_code == 202, resp.json
    assert resp.json == {"key": f"{sent['code']}-{sent['number']}", "type": "receipt.issued", "result": "applied"}
    receipt = db.session.scalar(select(Receipt))
    assert receipt.issuer_signature == sent["signature"] and receipt.issuer_signature["alg"] == "SM2"
    assert receipt.platform_signature["alg"] == "ES256"  # the node's own algorithm is its own (default)
    # SM2 signatures differ each time: the same content re-sealed is the same receipt
    again = sm2_hospital.push("receipt.issued", sm2_hospital.sign(sent))
    assert again.status_code == 202 and again.json["result"] == "unchanged"


def test_wrong_signer_id_wrong_digest_or_tampered_content_is_refused(sm2_hospital):
    key = sm2_hospital.private_key
    data = sm2_hospital.receipt()
    assert_refused(sm2_hospital.push("receipt.issued", sign_sm2(key, data, signer_id=b"ALICE123@YAHOO.COM")))
    assert_refused(sm2_hospital.push("receipt.issued", sign_sm2(key, data, signer_id=data["issuer"]["credit_code"].encode())))
    tampered = {**sign_sm2(key, data), "clerk": "赵敏"}
    assert_refused(sm2_hospital.push("receipt.issued", tampered))
    # a signature over SHA-256 of the canonical bytes instead of SM3(Z_A ‖ M): the digest signed
    # with GmSSL's raw-digest primitive, as a confused issuer might
    import gmssl_pyx
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    canonical = rfc8785.dumps(data)
    for wrong_digest in (hashlib.sha256(canonical).digest(), sm2.sm3(canonical)):
        r, s = decode_dss_signature(gmssl_pyx.sm2_sign_sm3_digest(key.d.to_bytes(32, "big"), wrong_digest))
        value = b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        assert_refused(sm2_hospital.push("receipt.issued", {**data, "signature": {"alg": "SM2", "value": value}}))
    assert stored() == 0
    # the same receipt, sealed right, goes through
    assert sm2_hospital.push("receipt.issued", sign_sm2(key, data)).status_code == 202
    assert stored() == 1


def test_an_es256_key_never_verifies_an_sm2_signature_nor_the_reverse(client, operator, sm2_hospital):
    es_hospital = operator.register_hospital(name="海口人民医院", credit_code="12460100428201235Y")
    sm2_key = sm2.generate_private_key()
    data = es_hospital.receipt()
    # SM2 seal sent to an issuer whose key is ES256: as SM2, and relabelled ES256
    sealed = sign_sm2(sm2_key, data)
    assert_refused(es_hospital.push("receipt.issued", sealed))
    assert_refused(es_hospital.push("receipt.issued", {**sealed, "signature": {**sealed["signature"], "alg": "ES256"}}))
    # ES256 seal sent to the SM2 issuer: as ES256, and relabelled SM2
    p256 = ec.generate_private_key(ec.SECP256R1())
    other = sm2_hospital.receipt()
    es_sealed = sign_es256(p256, other)
    assert_refused(sm2_hospital.push("receipt.issued", es_sealed))
    assert_refused(sm2_hospital.push("receipt.issued", {**es_sealed, "signature": {**es_sealed["signature"], "alg": "SM2"}}))
    # and with the issuer's own ES256 key, labelled SM2
    own = sign_es256(es_hospital.private_key, es_hospital.receipt())
    assert_refused(es_hospital.push("receipt.issued", {**own, "signature": {**own["signature"], "alg": "SM2"}}))
    assert stored() == 0
    # an unknown alg is a schema error
    resp = es_hospital.push("receipt.issued", {**own, "signature": {**own["signature"], "alg": "RS256"}})
    assert resp.status_code == 422 and resp.json["code"] == "validation_failed"


def test_rotating_from_es256_to_sm2_with_overlap(client, operator):
    hospital = operator.register_hospital()
    old_private = hospital.private_key
    new = sm2.generate_private_key()
    resp = client.post(keys_url(hospital), headers=operator.headers, json={
        "public_key_pem": new.public_key.to_pem(), "alg": "SM2", "overlap_hours": 24})
    assert resp.status_code == 201 and resp.json["alg"] == "SM2", resp.json
    assert hospital.issue()[0].status_code == 202  # the old ES256 key, during the overlap
    sm2_side = SM2Hospital(client, hospital.issuer_id, hospital.secret, new, hospital.name, hospital.credit_code)
    assert sm2_side.issue()[0].status_code == 202
    # the same SM2 key twice is a conflict
    again = client.post(keys_url(hospital), headers=operator.headers, json={"public_key_pem": new.public_key.to_bytes().hex(), "alg": "SM2"})
    assert again.status_code == 409 and again.json["code"] == "key_exists"
    assert old_private is hospital.private_key


def test_hex_public_key_is_stored_as_pem(client, operator):
    key = sm2.generate_private_key()
    resp = register(operator, "04" + key.public_key.to_bytes()[1:].hex())
    assert resp.status_code == 201, resp.json
    (listed,) = client.get(f"/api/v1/admin/issuers/{resp.json['id']}/keys", headers=operator.headers).json
    assert listed["public_key_pem"] == key.public_key.to_pem() and listed["alg"] == "SM2"
    hospital = SM2Hospital(client, resp.json["id"], resp.json["webhook_secret"], key, "三亚中心医院", "12460200428201234X")
    assert hospital.issue()[0].status_code == 202


def test_keys_of_the_wrong_kind_are_refused(client, operator):
    p256_pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    sm2_pem = sm2.generate_private_key().public_key.to_pem()
    for public_key, alg in ((p256_pem, "SM2"), (sm2_pem, "ES256"), ("04" + "00" * 64, "SM2"), ("not a key", "SM2")):
        resp = register(operator, public_key, alg=alg)
        assert resp.status_code == 422 and resp.json["code"] == "invalid_public_key", (alg, resp.json)
    assert register(operator, sm2_pem, alg="SM3").json["code"] == "unsupported_alg"


@pytest.fixture()
def sm2_supervision(app):
    """The node signs its supervision signatures with SM2 for one test."""
    saved = app.config.get("PLATFORM_SIGNATURE_ALG")
    app.config["PLATFORM_SIGNATURE_ALG"] = "SM2"
    app.extensions.pop("piaojia_platform_signer", None)
    yield
    app.config["PLATFORM_SIGNATURE_ALG"] = saved
    app.extensions.pop("piaojia_platform_signer", None)


def test_supervision_signature_in_sm2_when_configured(client, sm2_supervision, sm2_hospital, app):
    resp, sent = sm2_hospital.issue()
    assert resp.status_code == 202, resp.json
    receipt = db.session.scalar(select(Receipt))
    supervision = receipt.platform_signature
    assert supervision["alg"] == "SM2"
    (jwk,) = client.get("/api/v1/platform/jwks.json").json["keys"]
    assert jwk["alg"] == "SM2" and jwk["crv"] == "SM2" and jwk["kid"] == supervision["kid"]
    public = sm2.SM2PublicKey(int.from_bytes(b64url_decode(jwk["x"]), "big"), int.from_bytes(b64url_decode(jwk["y"]), "big"))
    message = rfc8785.dumps(sent)  # the receipt with the issuer's signature, without the supervision one
    assert sm2.verify(public, message, b64url_decode(supervision["value"]))
    assert signing.platform_signer().verify({**sent, "supervision_signature": supervision})
    # generated once into the instance folder, as the ES256 key is
    with open(f"{app.instance_path}/platform_sm2_signing_key.pem", encoding="ascii") as fh:
        assert sm2.load_private_key(fh.read()).public_key == public
