"""`POST /api/v1/federation/messages` on every node and the hub: verify, deduplicate by
`jti`, handle, answer with a signed message (`<type>.answer`, `status` and `result` or
`problem`). A redelivered message gets the answer it got the first time; the same id with
other content is refused."""
import json
import logging

from flask import current_app
from sqlalchemy.exc import IntegrityError

from backend.common.crypto import sha256_hex
from backend.common.errors import Conflict, DomainError
from backend.extensions import db
from backend.federation import is_hub, messages
from backend.federation.directory import hub_key_lookup, node_key_lookup
from backend.federation.models import FederationMessage

log = logging.getLogger(__name__)


class ReplayedMessage(Conflict):
    code = "replayed_message"
    title = "重复的跨省消息"


def _answer(claims: dict, status: int, payload: dict, problem: bool = False) -> str:
    body = {"in_reply_to": claims["jti"], "status": status, ("problem" if problem else "result"): payload}
    return messages.seal(claims["typ"] + ".answer", body, claims["iss"])


def _handle(claims: dict, token: str) -> tuple[int, dict]:
    sender, msg_type, body = claims["iss"], claims["typ"], claims["body"]
    if is_hub(current_app):
        from backend.federation import hub

        if msg_type == "receipt.announce":
            return hub.handle_announce(sender, body, token)
        if msg_type == "payer.subscribe":
            return hub.handle_subscribe(sender, body, token, claims["jti"])
    else:
        from backend.federation import inbound

        if msg_type == "receipt.sync" and sender == "hub":
            return 200, inbound.handle_sync(body)
        if msg_type == "payer.pull" and sender == "hub":
            return 200, inbound.handle_pull(body)
        if msg_type == "receipt.data_file" and sender != "hub":
            return 200, inbound.handle_data_file(body)
        if msg_type in inbound.UNIT_OPERATIONS and sender != "hub":
            return inbound.handle_unit_operation(sender, msg_type, body, claims["jti"])
    raise DomainError(f"Message type {msg_type!r} from {sender!r} is not handled here.", code="unknown_message_type", status=422)


def receive(token: str) -> str:
    lookup = hub_key_lookup if is_hub(current_app) else node_key_lookup
    try:
        claims = messages.open_(token, lookup)
    except messages.MessageRefused as exc:
        header_claims = _safe_peek(token)
        log.warning("federation message refused", extra={"code": exc.code, "sender": header_claims.get("iss"),
                                                          "type": header_claims.get("typ"), "jti": header_claims.get("jti")})
        raise
    digest = sha256_hex(token)
    seen = db.session.get(FederationMessage, claims["jti"])
    if seen is not None:
        if seen.token_hash != digest or seen.sender != claims["iss"]:
            log.warning("federation message id replayed with other content", extra={"jti": claims["jti"], "sender": claims["iss"]})
            raise ReplayedMessage("This message id was already used for another message.")
        if seen.answer is None:
            raise Conflict("This message is being handled.", code="message_in_progress")
        return _answer(claims, seen.answer["status"], seen.answer.get("result") or seen.answer.get("problem") or {},
                       problem="problem" in seen.answer)
    db.session.add(FederationMessage(jti=claims["jti"], sender=claims["iss"], type=claims["typ"], token_hash=digest))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("This message is being handled.", code="message_in_progress")
    try:
        status, result = _handle(claims, token)
        result = json.loads(current_app.json.dumps(result))  # timestamps and the like as the API writes them
        stored = {"status": status, "result": result}
    except DomainError as exc:
        db.session.rollback()
        status, result = exc.status, {"code": exc.code, "title": exc.title, "detail": exc.detail, **exc.extra}
        stored = {"status": status, "problem": result}
    except Exception:
        db.session.rollback()
        db.session.query(FederationMessage).filter_by(jti=claims["jti"]).delete()
        db.session.commit()
        raise
    record = db.session.get(FederationMessage, claims["jti"])
    record.answer = stored
    db.session.commit()
    return _answer(claims, status, result, problem="problem" in stored)


def _safe_peek(token) -> dict:
    try:
        return messages.peek(token)[1]
    except DomainError:
        return {}
