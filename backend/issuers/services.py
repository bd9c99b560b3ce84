"""Issuer registration, seal keys and webhook secrets (admin side)."""
import base64
import hashlib
import re
import secrets
from datetime import timedelta

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import bindparam, or_, select, text

from backend.common import row_cache
from backend.common.crypto import pii
from backend.common.errors import Conflict, NotFound, ValidationFailed
from backend.common.models import as_utc, utcnow
from backend.extensions import db
from backend.issuers.models import Issuer, IssuerCodeSeries, IssuerKey, IssuerWebhookSecret
from backend.receipts import sm2
from backend.receipts.rules import SeriesRange

CREDIT_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")
SUPPORTED_ALGS = ("ES256", "SM2")
SECRET_CONTEXT = "issuer-webhook-secret"


def _new_key(pem: str, alg: str) -> IssuerKey:
    """A checked seal key: a supported algorithm and a public key that fits it.
    ES256: a P-256 SubjectPublicKeyInfo PEM. SM2: an SM2 SubjectPublicKeyInfo PEM
    (id-ecPublicKey, curve 1.2.156.10197.1.301), or hex 04‖x‖y, stored as that PEM."""
    if alg not in SUPPORTED_ALGS:
        raise ValidationFailed(f"alg must be one of {', '.join(SUPPORTED_ALGS)}", code="unsupported_alg")
    if not isinstance(pem, str):
        raise ValidationFailed("public_key_pem is not a PEM public key.", code="invalid_public_key")
    if alg == "SM2":
        try:
            sm2_key = sm2.load_public_key(pem)
        except ValueError:
            raise ValidationFailed("SM2 needs an SM2 public key (PEM SubjectPublicKeyInfo on curve 1.2.156.10197.1.301, "
                                   "or hex 04‖x‖y).", code="invalid_public_key")
        if not pem.lstrip().startswith("-----BEGIN"):
            pem = sm2_key.to_pem()
        return IssuerKey(public_key_pem=pem, alg=alg, fingerprint=hashlib.sha256(sm2_key.to_der()).hexdigest())
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm):  # UnsupportedAlgorithm: e.g. an SM2 key given as ES256
        raise ValidationFailed("public_key_pem is not a PEM public key of a supported kind.", code="invalid_public_key")
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


CODE = re.compile(r"[0-9]{8}")
NUMBER = re.compile(r"[0-9]{10}")


def allocate_code_series(issuer_id: str, code: str, number_from: str, number_to: str) -> IssuerCodeSeries:
    """Allocates numbers `number_from`..`number_to` of receipt code `code` to an issuer.
    Series of one code never overlap, and a range another issuer already issued receipts
    in cannot be given to this one."""
    from backend.receipts.models import Receipt

    issuer = get_issuer(issuer_id)
    if not CODE.fullmatch(code or ""):
        raise ValidationFailed("code must be the 8-digit receipt code.", code="invalid_code")
    if code[:2] != issuer.province:
        raise ValidationFailed(f"code {code} is not of the issuer's province {issuer.province}.", code="wrong_province")
    if not (NUMBER.fullmatch(number_from or "") and NUMBER.fullmatch(number_to or "")) or number_from > number_to:
        raise ValidationFailed("number_from and number_to must be 10-digit numbers, number_from ≤ number_to.", code="invalid_number_range")
    if db.engine.dialect.name == "postgresql":  # one allocation per code at a time: the overlap check must see the others
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"code-series:{code}"})
    overlapping = db.session.scalar(select(IssuerCodeSeries.id).where(
        IssuerCodeSeries.code == code, IssuerCodeSeries.number_from <= number_to, IssuerCodeSeries.number_to >= number_from).limit(1))
    if overlapping is not None:
        db.session.rollback()
        raise Conflict(f"{code} {number_from}–{number_to} overlaps a series already allocated.", code="series_overlap")
    used_by_other = db.session.scalar(select(Receipt.id).where(
        Receipt.code == code, Receipt.number.between(number_from, number_to), Receipt.issuer_id != issuer.id).limit(1))
    if used_by_other is not None:
        db.session.rollback()
        raise Conflict(f"Another issuer already issued receipts in {code} {number_from}–{number_to}.", code="series_in_use")
    series = IssuerCodeSeries(issuer_id=issuer.id, code=code, number_from=number_from, number_to=number_to)
    db.session.add(series)
    db.session.commit()
    return series


def withdraw_code_series(issuer_id: str, series_id: str) -> None:
    """Withdraws an allocation: from now on the issuer may not issue in it (receipts already
    accepted stay as they are), and the range may be allocated again."""
    series = db.session.get(IssuerCodeSeries, series_id)
    if series is None or series.issuer_id != issuer_id:
        raise NotFound("No such code series for this issuer.", code="series_not_found")
    db.session.delete(series)
    db.session.commit()


def code_series_of(issuer_id: str) -> list[IssuerCodeSeries]:
    get_issuer(issuer_id)
    return db.session.scalars(select(IssuerCodeSeries).where(IssuerCodeSeries.issuer_id == issuer_id)
                              .order_by(IssuerCodeSeries.code, IssuerCodeSeries.number_from)).all()


_SERIES_FOR_RECEIPT = select(IssuerCodeSeries.issuer_id, IssuerCodeSeries.code, IssuerCodeSeries.number_from, IssuerCodeSeries.number_to).where(
    or_(IssuerCodeSeries.code == bindparam("code"), IssuerCodeSeries.issuer_id == bindparam("issuer_id")))


def series_for_receipt(issuer_id: str, code: str) -> tuple[SeriesRange, ...]:
    """What deciding on one receipt's allocation needs: the series of its code (any
    issuer) and every series of its issuer."""
    return row_cache.memo("series_for_receipt", (issuer_id, code), lambda: tuple(
        SeriesRange(*row) for row in db.session.execute(_SERIES_FOR_RECEIPT, {"code": code, "issuer_id": issuer_id})))
