"""Citizen sign-in with a 海易办 identity assertion (RFC 8725 checks) and refresh rotation."""
import base64
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import func, select

from backend.citizens.models import Citizen
from backend.extensions import db
from tests.support import ZHANG_SAN_ID, bearer, citizen_login


def demo_key(app):
    return serialization.load_pem_private_key(app.config["DEMO_IDP_KEY"].encode(), None)


def demo_kid(client):
    assertion = client.post("/api/v1/demo/assertion", json={"citizen": "zhangsan"}).json["assertion"]
    return jwt.get_unverified_header(assertion)["kid"]


def claims(**overrides):
    now = int(time.time())
    base = {"iss": "haiyiban", "aud": "piaojia", "sub": "hyb-1", "name": "张三", "id_type": "resident_id",
            "id_number": ZHANG_SAN_ID, "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def login(client, assertion):
    return client.post("/api/v1/auth/citizen", json={"assertion": assertion})


def test_demo_login_opens_the_account_and_me_shows_the_own_id(client):
    headers = citizen_login(client, "zhangsan")
    me = client.get("/api/v1/me", headers=headers).json
    assert me["name"] == "张三" and me["id_number"] == ZHANG_SAN_ID and me["id_number_masked"] == "460***********1234"
    citizen = db.session.scalar(select(Citizen))
    assert ZHANG_SAN_ID.encode() not in bytes(citizen.id_enc)
    citizen_login(client, "zhangsan")
    assert db.session.scalar(select(func.count()).select_from(Citizen)) == 1


def test_a_valid_assertion_signed_with_the_configured_key_is_accepted(app, client):
    token = jwt.encode(claims(), demo_key(app), algorithm="ES256", headers={"kid": demo_kid(client)})
    resp = login(client, token)
    assert resp.status_code == 200 and resp.json["token_type"] == "Bearer" and resp.json["refresh_token"].startswith("rt_")


@pytest.mark.parametrize("overrides,code", [
    ({"exp": int(time.time()) - 120}, "assertion_expired"),
    ({"aud": "another-app"}, "wrong_audience"),
    ({"iss": "evil-idp"}, "wrong_issuer"),
    ({"id_number": None}, "missing_claim"),
    ({"exp": None}, "missing_claim"),
    ({"name": ""}, "malformed_claims"),
])
def test_bad_claims_are_refused(app, client, overrides, code):
    token = jwt.encode(claims(**overrides), demo_key(app), algorithm="ES256", headers={"kid": demo_kid(client)})
    resp = login(client, token)
    assert resp.status_code == 401 and resp.json["code"] == code
    assert db.session.scalar(select(func.count()).select_from(Citizen)) == 0


def _unsigned(header, payload):
    enc = lambda obj: base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{enc(header)}.{enc(payload)}."


def test_alg_none_unknown_kid_foreign_key_and_algorithm_confusion_are_refused(app, client):
    kid = demo_kid(client)
    assert login(client, _unsigned({"alg": "none", "kid": kid}, claims())).json["code"] == "algorithm_not_allowed"
    other = ec.generate_private_key(ec.SECP256R1())
    assert login(client, jwt.encode(claims(), other, algorithm="ES256", headers={"kid": "nope"})).json["code"] == "unknown_key"
    forged = login(client, jwt.encode(claims(), other, algorithm="ES256", headers={"kid": kid}))
    assert forged.status_code == 401 and forged.json["code"] == "invalid_assertion"
    # HS256 "signed" with the public key: the classic algorithm confusion.
    public_pem = demo_key(app).public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    import hashlib
    import hmac as hmac_mod

    header = {"alg": "HS256", "kid": kid, "typ": "JWT"}
    signing_input = _unsigned(header, claims())[:-1]
    sig = base64.urlsafe_b64encode(hmac_mod.new(public_pem, signing_input.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()
    assert login(client, f"{signing_input}.{sig}").json["code"] == "algorithm_not_allowed"
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert login(client, jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": kid})).status_code == 401
    for garbage in ["", "abc", "a.b.c", "x" * 9000]:
        assert login(client, garbage).status_code in (401, 422)
    assert db.session.scalar(select(func.count()).select_from(Citizen)) == 0


def test_jwks_from_configuration_with_rs256(app_ctx, tmp_path, monkeypatch):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [{**jwk, "kid": "hyb-2026", "alg": "RS256", "use": "sig"}]}))
    monkeypatch.setitem(app_ctx.config, "HAIYIBAN_JWKS", str(jwks_file))
    app_ctx.extensions.pop("piaojia_haiyiban_jwks", None)
    try:
        client = app_ctx.test_client()
        good = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "hyb-2026"})
        assert login(client, good).status_code == 200
        demo_signed = client.post("/api/v1/demo/assertion", json={"citizen": "zhangsan"})
        # The demo endpoint is registered at start-up; its assertions no longer verify.
        assert demo_signed.status_code != 200 or login(client, demo_signed.json["assertion"]).status_code == 401
    finally:
        app_ctx.extensions.pop("piaojia_haiyiban_jwks", None)


def test_refresh_rotates_and_reuse_revokes_the_family(client):
    assertion = client.post("/api/v1/demo/assertion", json={"citizen": "lisi"}).json["assertion"]
    first = login(client, assertion).json
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200 and second.json["refresh_token"] != first["refresh_token"]
    reused = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401 and reused.json["code"] == "refresh_token_reused"
    # The thief's reuse also ends the legitimate holder's session.
    after = client.post("/api/v1/auth/refresh", json={"refresh_token": second.json["refresh_token"]})
    assert after.status_code == 401
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": "rt_unknown"}).json["code"] == "invalid_refresh_token"


def test_logout_revokes_the_session(client):
    assertion = client.post("/api/v1/demo/assertion", json={"citizen": "lisi"}).json["assertion"]
    pair = login(client, assertion).json
    assert client.post("/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]}).status_code == 204
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401


def test_me_needs_a_valid_citizen_token(client, operator):
    assert client.get("/api/v1/me").json["code"] == "missing_token"
    assert client.get("/api/v1/me", headers=bearer("x.y.z")).json["code"] == "invalid_token"
    # An operator's token is for another audience.
    assert client.get("/api/v1/me", headers=operator.headers).status_code == 401
