"""API clients (operators, units, issuers) and the OAuth 2.0 client-credentials grant."""
import hmac
import secrets

from flask import current_app
from sqlalchemy import select

from backend.clients.models import ROLES, ApiClient
from backend.common import tokens
from backend.common.crypto import sha256_hex
from backend.common.errors import DomainError, ValidationFailed
from backend.common.models import utcnow
from backend.extensions import db


class InvalidClient(DomainError):
    status = 401
    code = "invalid_client"
    title = "客户端身份验证失败"


def _new_secret() -> str:
    return "pjs_" + secrets.token_urlsafe(32)


def create_client(role: str, name: str, subject_id: str | None = None) -> tuple[ApiClient, str]:
    """Creates a client; returns it and its secret, which is shown only this once.

    Adds to the session without committing: the caller owns the transaction.
    """
    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}")
    secret = _new_secret()
    client = ApiClient(
        client_id=f"pj_{role}_{secrets.token_hex(8)}",
        secret_hash=sha256_hex(secret),
        role=role,
        name=name,
        subject_id=subject_id,
    )
    db.session.add(client)
    return client, secret


def create_operator(name: str) -> dict:
    if not name or not name.strip():
        raise ValidationFailed("An operator needs a name.")
    client, secret = create_client("operator", name.strip())
    db.session.commit()
    return {"client_id": client.client_id, "client_secret": secret}


def rotate_secret(client: ApiClient) -> str:
    secret = _new_secret()
    client.secret_hash = sha256_hex(secret)
    client.rotated_at = utcnow()
    return secret


def issue_token(client_id: str | None, client_secret: str | None) -> dict:
    client = db.session.scalar(select(ApiClient).where(ApiClient.client_id == (client_id or "")))
    # Compare even when the client is unknown so timing tells nothing about client ids.
    expected = client.secret_hash if client else sha256_hex("no such client")
    if not hmac.compare_digest(expected, sha256_hex(client_secret or "")) or client is None or not client.active:
        raise InvalidClient("Unknown client or wrong secret.")
    ttl = current_app.config["CLIENT_TOKEN_TTL_SECONDS"]
    token = tokens.issue(client.id, tokens.AUDIENCE_CLIENT, ttl, role=client.role)
    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}
