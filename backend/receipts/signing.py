"""Receipt signatures (DESIGN §2): RFC 8785 canonical JSON, ES256 or SM2 as raw r‖s, base64url.

The issuer signs the canonical JSON of the receipt without `signature`. On acceptance the
platform adds its supervision signature (财政监制签章) over the canonical JSON of the
receipt *with* the issuer's signature, so it vouches for both content and issuer seal.

Algorithms: ES256 (ECDSA P-256 with SHA-256) and SM2 (SM2 with SM3 over SM3(Z_A ‖ M),
signer id 1234567812345678, GB/T 32918.2; see `sm2`). A key verifies signatures of its
own algorithm only. The node's supervision algorithm is PLATFORM_SIGNATURE_ALG (default
ES256; SM2 signs with PLATFORM_SM2_SIGNING_KEY).
"""
import binascii
import functools
import hashlib

import jwt
import rfc8785
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from flask import current_app

from backend.common.crypto import b64url_decode, b64url_encode
from backend.receipts import sm2

SIGNATURE_FIELDS = ("signature", "supervision_signature")
SIGNATURE_ALGS = ("ES256", "SM2")


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


@functools.lru_cache(maxsize=1024)
def _load_sm2_public_key(pem: str) -> sm2.SM2PublicKey:
    return sm2.load_public_key(pem)


def verify_sm2(public_key, message: bytes, value: str, signer_id: bytes = sm2.DEFAULT_SIGNER_ID) -> bool:
    try:
        raw = b64url_decode(value)
    except (binascii.Error, ValueError, TypeError):
        return False
    return sm2.verify(public_key, message, raw, signer_id=signer_id)


def sign_sm2(private_key, message: bytes, signer_id: bytes = sm2.DEFAULT_SIGNER_ID) -> str:
    return b64url_encode(sm2.sign(private_key, message, signer_id=signer_id))


def verify_issuer_signature(public_key_pem: str, alg: str, canonical: bytes, signature: dict) -> bool:
    """`canonical`: canonical_bytes() of the receipt, computed once by the caller. The
    signature's `alg` must be the key's: an ES256 key never verifies an SM2 signature,
    nor the reverse."""
    if signature.get("alg") != alg or not isinstance(signature.get("value"), str):
        return False
    try:
        if alg == "ES256":
            return verify_es256(_load_public_key(public_key_pem), canonical, signature["value"])
        if alg == "SM2":
            return verify_sm2(_load_sm2_public_key(public_key_pem), canonical, signature["value"])
    except (ValueError, TypeError, UnsupportedAlgorithm):  # a stored key that does not load: it verifies nothing
        return False
    return False


class PlatformSigner:
    """The node's supervision key (ES256 or SM2); its public half is published as a JWKS
    (an SM2 key as {"kty": "EC", "crv": "SM2", x, y}, "alg": "SM2")."""

    def __init__(self, private_pem: str, alg: str = "ES256"):
        if alg not in SIGNATURE_ALGS:
            raise ValueError(f"PLATFORM_SIGNATURE_ALG must be one of {', '.join(SIGNATURE_ALGS)}, not {alg!r}")
        self.alg = alg
        if alg == "SM2":
            self._key = sm2.load_private_key(private_pem)
            point = self._key.public_key
            jwk = {"kty": "EC", "crv": "SM2", "x": b64url_encode(point.x.to_bytes(32, "big")),
                   "y": b64url_encode(point.y.to_bytes(32, "big"))}
        else:
            self._key = serialization.load_pem_private_key(private_pem.encode(), password=None)
            jwk = jwt.algorithms.ECAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        self.kid = jwk_thumbprint(jwk)
        self.public_jwk = {**jwk, "kid": self.kid, "alg": alg, "use": "sig"}

    @property
    def private_key(self):
        """The key itself (an SM2 key of backend.receipts.sm2, or a `cryptography` P-256 key)."""
        return self._key

    @property
    def public_key(self):
        return self._key.public_key if self.alg == "SM2" else self._key.public_key()

    def sign(self, data_with_issuer_signature: dict) -> dict:
        message = rfc8785.dumps({k: v for k, v in data_with_issuer_signature.items() if k != "supervision_signature"})
        value = sign_sm2(self._key, message) if self.alg == "SM2" else sign_es256(self._key, message)
        return {"alg": self.alg, "kid": self.kid, "value": value}

    def verify(self, data: dict) -> bool:
        sig = data.get("supervision_signature") or {}
        message = rfc8785.dumps({k: v for k, v in data.items() if k != "supervision_signature"})
        if sig.get("kid") != self.kid or sig.get("alg", self.alg) != self.alg:
            return False
        if self.alg == "SM2":
            return verify_sm2(self._key.public_key, message, sig.get("value", ""))
        return verify_es256(self._key.public_key(), message, sig.get("value", ""))


def jwk_thumbprint(jwk: dict) -> str:
    """RFC 7638 JWK thumbprint of an EC key (the members it names, canonical JSON)."""
    required = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
    return b64url_encode(hashlib.sha256(rfc8785.dumps(required)).digest())


def _pem(value: str) -> str:
    if not value.lstrip().startswith("-----BEGIN"):  # a path to the PEM file
        with open(value, encoding="ascii") as fh:
            value = fh.read()
    return value


def _platform_sm2_key() -> str:
    """PLATFORM_SM2_SIGNING_KEY (PEM or path); unset outside production: generated once into
    the instance folder, as the ES256 key is (backend.common.instance_secrets)."""
    cfg = current_app.config
    if cfg.get("PLATFORM_SM2_SIGNING_KEY"):
        return _pem(cfg["PLATFORM_SM2_SIGNING_KEY"])
    if cfg.get("ENV_NAME") == "production":
        raise RuntimeError("PLATFORM_SIGNATURE_ALG is SM2: PLATFORM_SM2_SIGNING_KEY (PEM or path) is required.")
    from pathlib import Path

    from backend.common.instance_secrets import _read_or_create

    return _read_or_create(Path(current_app.instance_path) / "platform_sm2_signing_key.pem",
                           lambda: sm2.generate_private_key().to_pem())


def platform_signer() -> PlatformSigner:
    signer = current_app.extensions.get("piaojia_platform_signer")
    if signer is None:
        alg = current_app.config.get("PLATFORM_SIGNATURE_ALG") or "ES256"
        if alg == "SM2":
            signer = PlatformSigner(_platform_sm2_key(), alg="SM2")
        else:
            signer = PlatformSigner(_pem(current_app.config["PLATFORM_SIGNING_KEY"]), alg=alg)
        current_app.extensions["piaojia_platform_signer"] = signer
    return signer
