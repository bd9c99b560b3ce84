"""Issuer webhook deliveries (DESIGN §5, §5a): authenticate, deduplicate, apply — one
transaction per delivery, so a refused delivery writes nothing and an accepted one is
recorded together with its replay record."""
import json
import logging
import time
from dataclasses import dataclass

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from backend.common import row_cache
from backend.common.crypto import sha256_hex
from backend.common.models import utcnow
from backend.common.errors import DomainError, Forbidden, NotFound, PayloadTooLarge, Unauthorized, ValidationFailed
from backend.extensions import db
from backend.issuers.models import Issuer
from backend.issuers.services import valid_webhook_secrets
from backend.receipts import data_files, services
from backend.receipts.models import InboundWebhook
from backend.receipts.schemas import EVENT_SCHEMAS, WebhookEnvelopeSchema

log = logging.getLogger(__name__)


class WebhookIdReused(DomainError):
    status = 409
    code = "webhook_id_reused"
    title = "重复的消息标识"


class MalformedJson(DomainError):
    status = 400
    code = "malformed_json"
    title = "请求内容不是有效的 JSON"


@dataclass
class DeliveryResult:
    status: int
    body: dict
    replayed: bool = False


def _header(headers, name) -> str | None:
    return headers.get(name) or headers.get(name.title())


def authenticate(issuer: Issuer, headers, body: bytes):
    """Standard Webhooks: several `v1,` signatures accepted; each valid secret tried."""
    msg_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signature = _header(headers, "webhook-signature")
    if not (msg_id and timestamp and signature):
        raise Unauthorized("webhook-id, webhook-timestamp and webhook-signature headers are required.", code="missing_signature_headers")
    if len(msg_id) > 128:
        raise Unauthorized("webhook-id is longer than 128 characters.", code="invalid_webhook_id")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise Unauthorized("webhook-timestamp must be integer Unix seconds.", code="invalid_timestamp")
    tolerance = current_app.config["WEBHOOK_TOLERANCE_SECONDS"]
    if abs(time.time() - sent_at) > tolerance:
        raise Unauthorized(f"webhook-timestamp is more than {tolerance} seconds away from now.", code="stale_timestamp")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedJson("The body is not UTF-8.")
    plain = {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": signature}
    for secret in valid_webhook_secrets(issuer):
        try:
            Webhook(secret).verify(text, plain, json_parse=False)
            return msg_id
        except (WebhookVerificationError, ValueError, TypeError):
            continue
    raise Unauthorized("No webhook-signature matches this issuer's secret.", code="invalid_signature")


# Schema instances are stateless once built and cost a deep copy of their fields to build.
_ENVELOPE_SCHEMA = WebhookEnvelopeSchema()
_EVENT_SCHEMAS = {event_type: schema() for event_type, schema in EVENT_SCHEMAS.items()}


def _parse(body: bytes) -> tuple[str, dict, dict]:
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedJson("The body is not valid JSON.")
    if not isinstance(envelope, dict):
        raise ValidationFailed("The body must be a JSON object {type, data}.")
    try:
        _ENVELOPE_SCHEMA.load(envelope)
        event_type, raw = envelope["type"], envelope["data"]
        if event_type == "receipt.issued" and data_files.is_data_file_push(raw):
            return event_type, raw, None  # a national data file: read with the issuer known (services)
        loaded = _EVENT_SCHEMAS[event_type].load(raw)
    except ValidationError as exc:
        raise ValidationFailed("The delivery does not match the receipt schema.", errors=exc.messages)
    return event_type, raw, loaded


def _replay(issuer_id: str, msg_id: str, body_hash: str) -> DeliveryResult | None:
    seen = db.session.scalar(
        select(InboundWebhook).where(InboundWebhook.issuer_id == issuer_id, InboundWebhook.webhook_id == msg_id)
    )
    if seen is None:
        return None
    if seen.body_hash != body_hash:
        raise WebhookIdReused(f"webhook-id {msg_id} was already used for another body.")
    return DeliveryResult(seen.status_code, seen.response, replayed=True)


# Built once: statements executed with separate parameters reuse their compiled form.
_INSERT_INBOUND = insert(InboundWebhook.__table__)


def handle_delivery(issuer_id: str, headers, body: bytes) -> DeliveryResult:
    """Applies one delivery. The first attempt is optimistic: it assumes a new webhook-id
    and, for `receipt.issued`, a new receipt, and lets the unique constraints say
    otherwise. A constraint violation (a replay, a duplicate, a concurrent delivery
    committing first) is then decided by the careful path, which looks the webhook-id and
    the receipt up before applying, exactly as if the first attempt never happened. A
    refusal stands unless the webhook-id was answered before: a hospital retrying a
    delivery we accepted gets that answer, even if applying it now would be refused."""
    try:
        issuer, msg_id = _authenticated_issuer(issuer_id, headers, body)
        known_issuer_id = issuer.id
        try:
            return _apply(issuer, msg_id, body, careful=False)
        except IntegrityError:
            db.session.rollback()
        except DomainError:
            db.session.rollback()
            replay = _replay(known_issuer_id, msg_id, sha256_hex(body))
            if replay is not None:
                return replay
            raise
        try:
            return _apply(issuer, msg_id, body, careful=True)
        except IntegrityError:
            # A concurrent delivery of the same webhook-id or receipt committed between
            # our lookups and our insert: run again, now seeing its result.
            db.session.rollback()
            return _apply(issuer, msg_id, body, careful=True)
    except Exception:
        db.session.rollback()
        raise


def _authenticated_issuer(issuer_id: str, headers, body: bytes) -> tuple[Issuer, str]:
    if len(body) > current_app.config["WEBHOOK_MAX_BODY_BYTES"]:
        raise PayloadTooLarge(f"A delivery may be at most {current_app.config['WEBHOOK_MAX_BODY_BYTES']} bytes.")
    issuer = row_cache.get(Issuer, issuer_id, relations=("secrets", "keys"))
    if issuer is None:
        raise NotFound("No such issuer.", code="issuer_not_found", title="开票单位不存在")
    msg_id = authenticate(issuer, headers, body)
    if not issuer.active:
        raise Forbidden("This issuer is disabled.", code="issuer_disabled", title="开票单位已停用")
    return issuer, msg_id


def _apply(issuer: Issuer, msg_id: str, body: bytes, *, careful: bool) -> DeliveryResult:
    body_hash = sha256_hex(body)
    if careful:
        replay = _replay(issuer.id, msg_id, body_hash)
        if replay is not None:
            return replay
    event_type, raw, loaded = _parse(body)
    if event_type == "receipt.batch":
        return _apply_batch(issuer, msg_id, body_hash, raw["receipts"])
    handler = services.HANDLERS[event_type]
    if event_type == "receipt.issued" and loaded is None:
        raw, loaded, parsed = data_files.read_pushed(issuer, raw)
        receipt, result = handler(issuer, raw, loaded, assume_new=not careful, data_file=parsed)
    elif event_type == "receipt.issued":
        receipt, result = handler(issuer, raw, loaded, assume_new=not careful)
    else:
        receipt, result = handler(issuer, raw, loaded)
    answer = {"key": receipt.key, "type": event_type, "result": result}
    db.session.execute(_INSERT_INBOUND, dict(
        issuer_id=issuer.id, webhook_id=msg_id, body_hash=body_hash, status_code=202, response=answer, created_at=utcnow()))
    issuer_id = issuer.id  # read before commit, which expires the instance
    db.session.commit()
    log.info("issuer delivery applied", extra={"issuer_id": issuer_id, "event_type": event_type, "result": result, "receipt_key": answer["key"]})
    return DeliveryResult(202, answer)


def _apply_batch(issuer: Issuer, msg_id: str, body_hash: str, receipts: list) -> DeliveryResult:
    items = services.issue_batch(issuer, receipts)
    counts = {outcome: sum(1 for item in items if item["result"] == outcome) for outcome in ("applied", "unchanged", "refused")}
    answer = {"type": "receipt.batch", **counts, "results": items}
    db.session.execute(_INSERT_INBOUND, dict(
        issuer_id=issuer.id, webhook_id=msg_id, body_hash=body_hash, status_code=202, response=answer, created_at=utcnow()))
    issuer_id = issuer.id
    db.session.commit()
    log.info("issuer batch applied", extra={"issuer_id": issuer_id, **counts})
    return DeliveryResult(202, answer)


def purge_replay_records(older_than) -> int:
    """Forgets processed webhook-ids older than `older_than` (far beyond the 5-minute
    tolerance, after which a replay is refused for its timestamp anyway)."""
    from sqlalchemy import delete

    from backend.common.models import utcnow

    deleted = db.session.execute(delete(InboundWebhook).where(InboundWebhook.created_at < utcnow() - older_than)).rowcount
    db.session.commit()
    return deleted
