"""Issuer registration, seal keys and webhook secrets (admin side)."""
import base64
import hashlib
import re
import secrets
from datetime import timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from backend.common.crypto import pii
from backend.common.errors import Conflict, NotFound, ValidationFailed
from backend.common.models import as_utc, utcnow
from backend.extensions import db
from backend.issuers.models import Issuer, IssuerKey, IssuerWebhookSecret

CREDIT_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")
SUPPORTED_ALGS = ("ES256",)
SECRET_CONTEXT = "issuer-webhook-secret"


def _new_key(pem: str, alg: str) -> IssuerKey:
    """A checked seal key: a supported algorithm and a public key that fits it."""
    if alg not in SUPPORTED_ALGS:
        raise ValidationFailed(f"alg must be one of {', '.join(SUPPORTED_ALGS)}", code="unsupported_alg")
    try:
        key = serialization.load_pem_public_key((pem or "").encode())
    except (ValueError, TypeError):
        raise ValidationFailed("public_key_pem is not a PEM public key.", code="invalid_public_key")
    if not (isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)):
        raise ValidationFailed("ES256 needs an ECDSA P-256 public key.", code="invalid_public_key")
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return IssuerKey(public_key_pem=pem, alg=alg, fingerprint=hashlib.sha256(der).hexdigest())


def valid_public_keys(issuer: Issuer) -> list[IssuerKey]:
    """The keys that verify the issuer's seal now, newest first."""
    now = utcnow()
    return [k for k in issuer.keys if k.expires_at is None or as_utc(k.expires_at) > now]


def add_public_key(issuer_id: str, public_key_pem: str, alg: str = "ES256", overlap_hours: int = 72) -> IssuerKey:
    """Registers the issuer's new seal key. The keys valid so far keep verifying for
    `overlap_hours` (0: not at all), while the hospital's systems switch over."""
    issuer = get_issuer(issuer_id)
    key = _new_key(public_key_pem, alg)
    if any(k.fingerprint == key.fingerprint for k in valid_public_keys(issuer)):
        raise Conflict("This key is already registered for the issuer.", code="key_exists")
    now = utcnow()
    for old in valid_public_keys(issuer):
        if old.expires_at is None or as_utc(old.expires_at) > now + timedelta(hours=overlap_hours):
            old.expires_at = now + timedelta(hours=overlap_hours)
    issuer.keys.insert(0, key)
    db.session.commit()
    return key


def retire_public_key(issuer_id: str, key_id: str) -> IssuerKey:
    """Ends a key at once (e.g. a compromised one); receipts already accepted keep their
    verification and supervision signature."""
    issuer = get_issuer(issuer_id)
    key = next((k for k in issuer.keys if k.id == key_id), None)
    if key is None:
        raise NotFound("No such key for this issuer.", code="key_not_found")
    now = utcnow()
    if key.expires_at is None or as_utc(key.expires_at) > now:
        key.expires_at = now
    db.session.commit()
    return key


def _new_webhook_secret() -> tuple[str, bytes]:
    raw = secrets.token_bytes(32)
    text = "whsec_" + base64.b64encode(raw).decode()
    return text, pii().encrypt(text, SECRET_CONTEXT)


def register_issuer(*, name, credit_code, province, public_key_pem, alg="ES256") -> tuple[Issuer, str]:
    """Registers an issuer; returns it and its `whsec_` secret (shown once)."""
    if not CREDIT_CODE.fullmatch(credit_code or ""):
        raise ValidationFailed("credit_code must be an 18-character unified social credit code.", code="invalid_credit_code")
    if not re.fullmatch(r"[0-9]{2}", province or ""):
        raise ValidationFailed("province must be a two-digit region code.", code="invalid_province")
    key = _new_key(public_key_pem, alg)
    if db.session.scalar(select(Issuer.id).where(Issuer.credit_code == credit_code)):
        raise Conflict("An issuer with this credit code is already registered.", code="issuer_exists")
    issuer = Issuer(name=name, credit_code=credit_code, province=province)
    issuer.keys.append(key)
    text, encrypted = _new_webhook_secret()
    issuer.secrets.append(IssuerWebhookSecret(secret_enc=encrypted))
    db.session.add(issuer)
    db.session.commit()
    return issuer, text


def get_issuer(issuer_id: str) -> Issuer:
    issuer = db.session.get(Issuer, issuer_id)
    if issuer is None:
        raise NotFound("No such issuer.", code="issuer_not_found")
    return issuer


def rotate_webhook_secret(issuer_id: str, grace_hours: int = 24) -> str:
    """Adds a new secret; the previous ones stay valid for `grace_hours`."""
    issuer = get_issuer(issuer_id)
    now = utcnow()
    for old in issuer.secrets:
        if old.expires_at is None or as_utc(old.expires_at) > now + timedelta(hours=grace_hours):
            old.expires_at = now + timedelta(hours=grace_hours)
    text, encrypted = _new_webhook_secret()
    issuer.secrets.append(IssuerWebhookSecret(secret_enc=encrypted))
    db.session.commit()
    return text


def set_status(issuer_id: str, status: str) -> Issuer:
    if status not in ("active", "disabled"):
        raise ValidationFailed("status must be active or disabled")
    issuer = get_issuer(issuer_id)
    issuer.status = status
    db.session.commit()
    return issuer


def valid_webhook_secrets(issuer: Issuer) -> list[str]:
    now = utcnow()
    return [
        pii().decrypt(s.secret_enc, SECRET_CONTEXT)
        for s in issuer.secrets
        if s.expires_at is None or as_utc(s.expires_at) > now
    ]
