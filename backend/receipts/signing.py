"""Receipt signatures (DESIGN §2): RFC 8785 canonical JSON, ES256 as raw r‖s, base64url.

The issuer signs the canonical JSON of the receipt without `signature`. On acceptance the
platform adds its supervision signature (财政监制签章) over the canonical JSON of the
receipt *with* the issuer's signature, so it vouches for both content and issuer seal.
"""
import binascii
import functools
import hashlib

import jwt
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from flask import current_app

from backend.common.crypto import b64url_decode, b64url_encode

SIGNATURE_FIELDS = ("signature", "supervision_signature")


def canonical_bytes(data: dict) -> bytes:
    return rfc8785.dumps({k: v for k, v in data.items() if k not in SIGNATURE_FIELDS})


@functools.lru_cache(maxsize=1024)
def _load_public_key(pem: str):
    return serialization.load_pem_public_key(pem.encode())


def verify_es256(public_key, message: bytes, value: str) -> bool:
    try:
        raw = b64url_decode(value)
    except (binascii.Error, ValueError):
        return False
    if len(raw) != 64:
        return False
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public_key.verify(der, message, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def sign_es256(private_key, message: bytes) -> str:
    r, s = decode_dss_signature(private_key.sign(message, ec.ECDSA(hashes.SHA256())))
    return b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def verify_issuer_signature(public_key_pem: str, alg: str, canonical: bytes, signature: dict) -> bool:
    """`canonical`: canonical_bytes() of the receipt, computed once by the caller."""
    if alg != "ES256" or signature.get("alg") != alg:
        return False
    return verify_es256(_load_public_key(public_key_pem), canonical, signature["value"])


class PlatformSigner:
    """The node's supervision key (ES256); its public half is published as a JWKS."""

    def __init__(self, private_pem: str):
        self._key = serialization.load_pem_private_key(private_pem.encode(), password=None)
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        self.kid = jwk_thumbprint(jwk)
        self.public_jwk = {**jwk, "kid": self.kid, "alg": "ES256", "use": "sig"}

    def sign(self, data_with_issuer_signature: dict) -> dict:
        message = rfc8785.dumps({k: v for k, v in data_with_issuer_signature.items() if k != "supervision_signature"})
        return {"alg": "ES256", "kid": self.kid, "value": sign_es256(self._key, message)}

    def verify(self, data: dict) -> bool:
        sig = data.get("supervision_signature") or {}
        message = rfc8785.dumps({k: v for k, v in data.items() if k != "supervision_signature"})
        return sig.get("kid") == self.kid and verify_es256(self._key.public_key(), message, sig.get("value", ""))


def jwk_thumbprint(jwk: dict) -> str:
    """RFC 7638 JWK thumbprint of an EC key (the members it names, canonical JSON)."""
    required = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
    return b64url_encode(hashlib.sha256(rfc8785.dumps(required)).digest())


def platform_signer() -> PlatformSigner:
    signer = current_app.extensions.get("piaojia_platform_signer")
    if signer is None:
        value = current_app.config["PLATFORM_SIGNING_KEY"]
        if not value.lstrip().startswith("-----BEGIN"):  # a path to the PEM file
            with open(value, encoding="ascii") as fh:
                value = fh.read()
        signer = PlatformSigner(value)
        current_app.extensions["piaojia_platform_signer"] = signer
    return signer
