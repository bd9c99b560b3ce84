"""Verification of 海易办 identity assertions (DESIGN §5a), the RFC 8725 way.

The algorithm list is ours (ES256, RS256), never the token's; `kid` must name a key of
the configured JWKS; `iss`, `aud`, `exp`, `iat` and the identity claims are required.
In the embedded default a demo identity provider signs assertions with a key from the
instance folder, and they go through exactly this verification.
"""
import json
import os
import time
import uuid
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives import serialization
from flask import current_app

from backend.citizens.schemas import IdentityClaimsSchema
from backend.common.errors import Unauthorized
from backend.receipts.signing import jwk_thumbprint

REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "iat", "jti", "name", "id_type", "id_number"]
IDENTITY_CLAIMS = ("sub", "jti", "name", "id_type", "id_number", "phone")
LEEWAY_SECONDS = 30
MAX_LIFETIME_SECONDS = 600


class InvalidAssertion(Unauthorized):
    code = "invalid_assertion"
    title = "身份凭证无效，请重新登录海易办"


@dataclass(frozen=True)
class Identity:
    sub: str
    name: str
    id_type: str
    id_number: str
    phone: str | None


def _load_jwks(value: str) -> dict:
    text = value
    if not value.lstrip().startswith("{") and os.path.exists(value):
        with open(value, encoding="utf-8") as fh:
            text = fh.read()
    return json.loads(text)


def demo_private_key():
    return serialization.load_pem_private_key(current_app.config["DEMO_IDP_KEY"].encode(), password=None)


def _demo_jwks() -> dict:
    public = demo_private_key().public_key()
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(public, as_dict=True)
    return {"keys": [{**jwk, "kid": jwk_thumbprint(jwk), "alg": "ES256", "use": "sig"}]}


def demo_identity_provider_active(app=None) -> bool:
    cfg = (app or current_app).config
    return bool(cfg.get("DEMO_IDENTITY_PROVIDER") and not cfg.get("HAIYIBAN_JWKS") and cfg.get("DEMO_IDP_KEY"))


def key_set() -> jwt.PyJWKSet:
    cached = current_app.extensions.get("piaojia_haiyiban_jwks")
    if cached is None:
        raw = current_app.config.get("HAIYIBAN_JWKS")
        if raw:
            data = _load_jwks(raw)
        elif demo_identity_provider_active():
            data = _demo_jwks()
        else:
            raise RuntimeError("HAIYIBAN_JWKS is not configured")
        cached = jwt.PyJWKSet.from_dict(data)
        current_app.extensions["piaojia_haiyiban_jwks"] = cached
    return cached


def _key_for(assertion: str) -> tuple[dict, jwt.PyJWK]:
    """The header and the 海易办 key an assertion names (cheap: no signature check)."""
    if not isinstance(assertion, str) or assertion.count(".") != 2:
        raise InvalidAssertion("The assertion is not a JWT.")
    allowed = current_app.config["HAIYIBAN_ALGORITHMS"]
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        raise InvalidAssertion("The assertion header cannot be read.")
    if header.get("alg") not in allowed:
        raise InvalidAssertion(f"Algorithm {header.get('alg')!r} is not allowed.", code="algorithm_not_allowed")
    kid = header.get("kid")
    keys = {k.key_id: k for k in key_set().keys if k.key_id}
    if not kid or kid not in keys:
        raise InvalidAssertion("The assertion's kid names no key of the 海易办 JWKS.", code="unknown_key")
    key = keys[kid]
    if key.algorithm_name and key.algorithm_name != header["alg"]:
        raise InvalidAssertion("The assertion's alg does not match its key.", code="algorithm_not_allowed")
    return header, key


def plausible(assertion: str) -> bool:
    """Whether an assertion could be valid, judged without verifying its signature or asking
    the database: shape, algorithm, key id, issuer, audience and times. What fails here is
    refused cheaply when a source sends floods of garbage."""
    try:
        _key_for(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except (InvalidAssertion, jwt.PyJWTError):
        return False
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    exp, iat, now = claims.get("exp"), claims.get("iat"), time.time()
    return (claims.get("iss") == current_app.config["HAIYIBAN_ISSUER"]
            and current_app.config["HAIYIBAN_AUDIENCE"] in audiences
            and all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in (exp, iat))
            and exp > now - LEEWAY_SECONDS and iat <= now + LEEWAY_SECONDS and exp - iat <= MAX_LIFETIME_SECONDS)


def verify_assertion(assertion: str) -> tuple[Identity, dict]:
    """The identity an assertion vouches for, and its claims (for single use by `jti`)."""
    header, key = _key_for(assertion)
    try:
        claims = jwt.decode(
            assertion, key.key, algorithms=[header["alg"]], audience=current_app.config["HAIYIBAN_AUDIENCE"],
            issuer=current_app.config["HAIYIBAN_ISSUER"], leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidAssertion("The assertion has expired.", code="assertion_expired")
    except jwt.InvalidAudienceError:
        raise InvalidAssertion("The assertion is for another audience.", code="wrong_audience")
    except jwt.InvalidIssuerError:
        raise InvalidAssertion("The assertion comes from another issuer.", code="wrong_issuer")
    except (jwt.exceptions.InvalidSubjectError, jwt.exceptions.InvalidJTIError) as exc:
        raise InvalidAssertion(f"Malformed identity claims: {exc}.", code="malformed_claims")
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidAssertion(f"The assertion lacks the {exc.claim} claim.", code="missing_claim")
    except jwt.PyJWTError as exc:
        raise InvalidAssertion(f"The assertion does not verify: {type(exc).__name__}.")
    if claims["iat"] > time.time() + LEEWAY_SECONDS:
        raise InvalidAssertion("The assertion was issued in the future.")
    if claims["exp"] - claims["iat"] > MAX_LIFETIME_SECONDS:
        raise InvalidAssertion(f"The assertion may live at most {MAX_LIFETIME_SECONDS} s.", code="assertion_lifetime")
    errors = IdentityClaimsSchema().validate({name: claims.get(name) for name in IDENTITY_CLAIMS if name in claims})
    if errors:
        raise InvalidAssertion(f"Malformed identity claims: {', '.join(sorted(errors))}.", code="malformed_claims")
    identity = Identity(claims["sub"], claims["name"].strip(), claims["id_type"], claims["id_number"].strip().upper(), claims.get("phone"))
    return identity, claims


def sign_demo_assertion(person: dict, ttl: int = 300) -> str:
    """The demo identity provider (embedded default only)."""
    now = int(time.time())
    claims = {"iss": current_app.config["HAIYIBAN_ISSUER"], "aud": current_app.config["HAIYIBAN_AUDIENCE"],
              "sub": person["sub"], "name": person["name"], "id_type": person["id_type"], "id_number": person["id_number"],
              "phone": person.get("phone"), "iat": now, "exp": now + ttl, "jti": uuid.uuid4().hex}
    kid = key_set().keys[0].key_id
    return jwt.encode(claims, demo_private_key(), algorithm="ES256", headers={"kid": kid})
