"""`Idempotency-Key` for POSTs by API clients (Stripe's semantics; IETF
draft-ietf-httpapi-idempotency-key-header):

- same key, same request → the stored answer of the first, replayed (header `Idempotent-Replayed: true`);
- same key, other request (method, path or body) → 422 `idempotency_key_reused`;
- same key while the first is still running → 409 `idempotency_key_in_use`;
- keys are scoped per API client and kept at least 24 hours (purged by `flask purge-idempotency-keys`).

5xx answers are not stored: the key is released so the client can retry.
The record is claimed in its own short transaction before the service runs.
"""
import json
from datetime import timedelta
from functools import wraps

import rfc8785
from flask import Response, current_app, g, request
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from backend.common.crypto import sha256_hex
from backend.common.errors import DomainError, ValidationFailed
from backend.common.models import as_utc, utcnow
from backend.extensions import db

HEADER = "Idempotency-Key"
BODY_CONTEXT = "idempotent-response"
RETENTION = timedelta(hours=48)
# A claim older than this is taken to belong to a crashed request and may be taken over.
ABANDONED_AFTER = timedelta(seconds=60)


class KeyInUse(DomainError):
    status = 409
    code = "idempotency_key_in_use"
    title = "相同幂等键的请求正在处理中"


class KeyReused(DomainError):
    status = 422
    code = "idempotency_key_reused"
    title = "幂等键已用于不同的请求"


def _canonical_body() -> bytes:
    """The body as parsed, canonicalized (RFC 8785): whitespace and key order do not make
    another request. A body that is not JSON is taken byte for byte."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return b""
    try:
        return rfc8785.dumps(json.loads(raw))
    except (ValueError, rfc8785.CanonicalizationError, rfc8785.IntegerDomainError, rfc8785.FloatDomainError):
        return raw


def _fingerprint() -> str:
    return sha256_hex(b"\n".join([request.method.encode(), request.path.encode(), _canonical_body()]))


def _seal(body) -> dict:
    """Stored answers can hold secrets (a lock token): kept encrypted like personal data."""
    from backend.common.crypto import b64url_encode, pii

    return {"sealed": b64url_encode(pii().encrypt(json.dumps(body, ensure_ascii=False), BODY_CONTEXT))}


def _unseal(stored):
    from backend.common.crypto import b64url_decode, pii

    return json.loads(pii().decrypt(b64url_decode(stored["sealed"]), BODY_CONTEXT))


def _replay(record) -> Response:
    response = Response(json.dumps(_unseal(record.response_body), ensure_ascii=False), status=record.response_status,
                        mimetype=(record.response_headers or {}).get("Content-Type", "application/json"))
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _claim(client_id: str, key: str, fingerprint: str):
    """Returns None when this request owns the key, or the finished record to replay."""
    from backend.reimbursements.models import IdempotencyRecord

    now = utcnow()
    db.session.add(IdempotencyRecord(client_id=client_id, key=key, fingerprint=fingerprint, state="in_progress", created_at=now, locked_at=now))
    try:
        db.session.commit()
        return None
    except IntegrityError:
        db.session.rollback()
    record = db.session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.client_id == client_id, IdempotencyRecord.key == key))
    if record is None:  # purged in between: try once more
        return _claim(client_id, key, fingerprint)
    if record.fingerprint != fingerprint:
        raise KeyReused("This Idempotency-Key was used for a different request.")
    if record.state == "done":
        return record
    if as_utc(record.locked_at) > now - ABANDONED_AFTER:
        raise KeyInUse("A request with this Idempotency-Key is still being processed; retry later.")
    taken = db.session.execute(
        update(IdempotencyRecord).where(IdempotencyRecord.id == record.id, IdempotencyRecord.state == "in_progress",
                                        IdempotencyRecord.locked_at == record.locked_at).values(locked_at=now)
    ).rowcount
    db.session.commit()
    if taken != 1:
        raise KeyInUse("A request with this Idempotency-Key is still being processed; retry later.")
    return None


def _finish(client_id: str, key: str, response: Response):
    from backend.reimbursements.models import IdempotencyRecord

    db.session.rollback()  # whatever the view left behind is not ours to commit
    where = (IdempotencyRecord.client_id == client_id, IdempotencyRecord.key == key)
    if response.status_code >= 500:
        db.session.execute(delete(IdempotencyRecord).where(*where))
    else:
        body = response.get_json(silent=True)
        db.session.execute(update(IdempotencyRecord).where(*where).values(
            state="done", response_status=response.status_code, response_body=_seal(body),
            response_headers={"Content-Type": response.mimetype}))
    db.session.commit()


def idempotent(view):
    """Honours an Idempotency-Key on POST; needs `g.client` (put it inside client_required)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None:
            return view(*args, **kwargs)
        if not (1 <= len(key) <= 255) or not key.isprintable():
            raise ValidationFailed("Idempotency-Key must be 1 to 255 printable characters.", code="invalid_idempotency_key")
        client_id = g.client.id
        record = _claim(client_id, key, _fingerprint())
        if record is not None:
            return _replay(record)
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - the error's answer is stored too, unless it is a 5xx
            if not isinstance(exc, (DomainError, HTTPException)):
                _finish(client_id, key, Response(status=500))
                raise
            response = current_app.make_response(current_app.handle_user_exception(exc))
        _finish(client_id, key, response)
        return response

    return wrapper


def purge(older_than=RETENTION) -> int:
    from backend.reimbursements.models import IdempotencyRecord

    deleted = db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - older_than)).rowcount
    db.session.commit()
    return deleted
