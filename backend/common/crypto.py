"""Key derivation, personal-data encryption (AES-GCM), keyed lookup hashes and masking.

Ciphertexts are `kid(8 bytes) ‖ nonce(12) ‖ AES-GCM(ciphertext+tag)`, so an old key listed
in PII_OLD_KEYS can still decrypt while new writes use PII_KEY (rotation). The lookup hash
is HMAC-SHA256 under a key derived from PII_HASH_KEY (default: PII_KEY), so keep that value
fixed when rotating PII_KEY, or the lookups change.
"""
import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def derive_key(secret: str | bytes, info: str, length: int = 32) -> bytes:
    material = secret.encode() if isinstance(secret, str) else secret
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info.encode()).derive(material)


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha256(data).hexdigest()


class PiiCipher:
    """Encrypts personal data at rest and computes keyed lookup hashes."""

    def __init__(self, key: str, old_keys=(), hash_key: str | None = None):
        self._keys = {}
        self._current_kid = None
        for i, raw in enumerate([key, *old_keys]):
            enc_key = derive_key(raw, "piaojia pii encryption v1")
            kid = bytes.fromhex(key_id(enc_key))
            self._keys[kid] = AESGCM(enc_key)
            if i == 0:
                self._current_kid = kid
        self._hash_key = derive_key(hash_key or key, "piaojia pii lookup v1")

    def encrypt(self, plaintext: str, context: str = "") -> bytes:
        nonce = os.urandom(12)
        ct = self._keys[self._current_kid].encrypt(nonce, plaintext.encode(), context.encode())
        return self._current_kid + nonce + ct

    def decrypt(self, blob: bytes, context: str = "") -> str:
        blob = bytes(blob)
        kid, nonce, ct = blob[:8], blob[8:20], blob[20:]
        aead = self._keys.get(kid)
        if aead is None:
            raise ValueError("personal data was encrypted with a key that is no longer configured")
        return aead.decrypt(nonce, ct, context.encode()).decode()

    def lookup_hash(self, id_type: str, id_number: str) -> str:
        normalized = f"{id_type}:{id_number.strip().upper()}"
        return hmac.new(self._hash_key, normalized.encode(), hashlib.sha256).hexdigest()


def init_app(app):
    cfg = app.config
    app.extensions["piaojia_pii"] = PiiCipher(cfg["PII_KEY"], cfg.get("PII_OLD_KEYS") or (), cfg.get("PII_HASH_KEY"))


def pii() -> PiiCipher:
    return current_app.extensions["piaojia_pii"]


def mask_id_number(id_number: str | None) -> str | None:
    """`460200199001011234` → `460***********1234`: first 3 and last 4 kept."""
    if not id_number:
        return id_number
    if len(id_number) <= 7:
        return "*" * len(id_number)
    return id_number[:3] + "*" * (len(id_number) - 7) + id_number[-4:]


def federated_payer_hash(id_type: str, id_number: str) -> str:
    """The payer's hash shared by every node and the hub (FEDERATION_PAYER_KEY): the only form
    in which a person is known across provinces (the hub's payer index)."""
    from flask import current_app

    key = current_app.config["FEDERATION_PAYER_KEY"].encode()
    return hmac.new(key, f"{id_type}:{id_number.strip().upper()}".encode(), hashlib.sha256).hexdigest()


def pem_bytes(value: str) -> bytes:
    """A key or certificate setting given as PEM text or as the path of a PEM file."""
    value = value.strip()
    if not value.startswith("-----") and os.path.exists(value):
        with open(value, "rb") as fh:
            return fh.read()
    return value.encode()
