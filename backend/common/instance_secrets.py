"""Secrets of the embedded default, generated once into the instance folder.

Production never reaches this: ProductionConfig requires its secrets from the environment.
"""
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


DEMO_FEDERATION_PAYER_KEY = "piaojia-demo-federation-payer-key-not-for-production"


def _read_or_create(path: Path, make) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


def new_ec_private_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def fill_missing(app):
    folder = Path(app.instance_path)
    cfg = app.config
    if not cfg.get("SECRET_KEY"):
        cfg["SECRET_KEY"] = _read_or_create(folder / "secret_key", lambda: secrets.token_urlsafe(48))
    if not cfg.get("PII_KEY"):
        cfg["PII_KEY"] = _read_or_create(folder / "pii_key", lambda: secrets.token_urlsafe(32))
    if not cfg.get("PLATFORM_SIGNING_KEY"):
        cfg["PLATFORM_SIGNING_KEY"] = _read_or_create(folder / "platform_signing_key.pem", new_ec_private_pem)
    if not cfg.get("FEDERATION_SIGNING_KEY"):
        cfg["FEDERATION_SIGNING_KEY"] = _read_or_create(folder / "federation_signing_key.pem", new_ec_private_pem)
    if not cfg.get("FEDERATION_PAYER_KEY"):
        # The embedded default's demo value: every demo node must hash payers alike.
        cfg["FEDERATION_PAYER_KEY"] = DEMO_FEDERATION_PAYER_KEY
    if cfg.get("DEMO_IDENTITY_PROVIDER") and not cfg.get("HAIYIBAN_JWKS") and not cfg.get("DEMO_IDP_KEY"):
        cfg["DEMO_IDP_KEY"] = _read_or_create(folder / "demo_idp_key.pem", new_ec_private_pem)
    if not cfg.get("SQLALCHEMY_DATABASE_URI"):
        folder.mkdir(parents=True, exist_ok=True)
        cfg["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{folder / 'piaojia.sqlite3'}"
