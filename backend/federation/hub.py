"""The hub: verifies every sender against its directory, keeps the payer index (keyed
hashes only) and routes — announcements to the nodes where the payer has an account,
subscriptions to the provinces that issued to the payer, requests to their audience.
It stores no receipt content."""
import logging
import uuid
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backend.common.errors import DomainError, NotFound, ValidationFailed
from backend.common.models import as_utc, utcnow
from backend.extensions import db
from backend.federation import messages, transport
from backend.federation.directory import node_url
from backend.federation.models import PayerIndexEntry, PayerSubscription

log = logging.getLogger(__name__)


def _index(fhash: str, province: str, role: str) -> None:
    if not isinstance(fhash, str) or len(fhash) != 64:
        raise ValidationFailed("payer_fhash is a 64-character hash.", code="malformed_message")
    exists = db.session.scalar(select(PayerIndexEntry.id).where(PayerIndexEntry.payer_fhash == fhash, PayerIndexEntry.province == province,
                                                                PayerIndexEntry.role == role))
    if exists is None:
        db.session.add(PayerIndexEntry(payer_fhash=fhash, province=province, role=role))
        try:
            db.session.commit()
        except IntegrityError:  # indexed at the same moment by another message
            db.session.rollback()


def _provinces(fhash: str, role: str) -> list[str]:
    return list(db.session.scalars(select(PayerIndexEntry.province).where(PayerIndexEntry.payer_fhash == fhash,
                                                                          PayerIndexEntry.role == role).order_by(PayerIndexEntry.province)))


def _ask(province: str, msg_type: str, body: dict) -> dict:
    """A message of the hub's own to a node; that node's answer body."""
    from backend.federation.exchange import read_answer

    url = node_url(province)
    if url is None:
        raise NotFound(f"Province {province} is not in the directory.", code="node_not_found")
    jti = uuid.uuid4().hex
    status, answer = read_answer(transport.post(url, messages.seal(msg_type, body, province, jti=jti)), expect_from=province,
                                 in_reply_to=jti, msg_type=msg_type)
    if status >= 300:
        raise transport.IssuingNodeUnavailable(f"Province {province} answered {status}.")
    return answer.get("result") or {}


def handle_announce(sender: str, body: dict, token: str) -> tuple[int, dict]:
    fhash = body.get("payer_fhash")
    _index(fhash, sender, "issuer")
    delivered, failed = [], []
    for province in _provinces(fhash, "account"):
        if province == sender:
            continue
        try:
            _ask(province, "receipt.sync", {"original": token})
            delivered.append(province)
        except Exception as exc:  # noqa: BLE001 - the announcer retries; receivers apply each state once
            log.warning("announcement not forwarded to province %s: %s", province, type(exc).__name__)
            failed.append(province)
    if failed:
        return 503, {"delivered_to": delivered, "failed": failed}
    return 200, {"delivered_to": delivered}


class SubscriptionRefused(DomainError):
    status = 403
    code = "subscription_refused"
    title = "订阅请求缺少有效的登录凭据"


class TooManySubscriptions(DomainError):
    status = 429
    code = "too_many_subscriptions"
    title = "该节点订阅请求过于频繁"


def _sign_in(body: dict) -> tuple[datetime, str]:
    """The node's statement of the sign-in this subscription rests on: when, and which
    account there (an opaque reference). Recent, and not in the future."""
    stated = body.get("sign_in")
    at = stated.get("at") if isinstance(stated, dict) else None
    ref = stated.get("account_ref") if isinstance(stated, dict) else None
    try:
        when = datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None or not isinstance(ref, str) or not 16 <= len(ref) <= 64:
        raise SubscriptionRefused("A subscription states the sign-in it rests on: sign_in {at, account_ref}.")
    age = (utcnow() - when).total_seconds()
    if age > current_app.config["FEDERATION_SIGN_IN_MAX_AGE_SECONDS"] or age < -messages.LEEWAY_SECONDS:
        raise SubscriptionRefused("The sign-in this subscription rests on is not recent.", code="sign_in_not_recent")
    return when, ref


def _within_rate(sender: str) -> None:
    """A moving window per node (in the limiter's storage: Redis in production, so every hub
    process counts together): no burst at a window's edge."""
    from limits import parse
    from limits.strategies import MovingWindowRateLimiter

    from backend.extensions import limiter

    window = MovingWindowRateLimiter(limiter.limiter.storage)
    if not window.hit(parse(current_app.config["FEDERATION_SUBSCRIPTIONS_PER_NODE"]), "federation-subscribe",
                      f"{current_app.config.get('RATELIMIT_KEY_PREFIX', '')}:{sender}"):
        log.warning("payer subscriptions over the node's rate", extra={"sender": sender})
        raise TooManySubscriptions(f"Province {sender} subscribes faster than {current_app.config['FEDERATION_SUBSCRIPTIONS_PER_NODE']}.")


def handle_subscribe(sender: str, body: dict, token: str, jti: str) -> tuple[int, dict]:
    """A node subscribes for a payer who signed in there (its signed statement, kept for
    audit), within its rate; the hub indexes the account and pulls the payer's receipts."""
    fhash = body.get("payer_fhash")
    if not isinstance(fhash, str) or len(fhash) != 64:
        raise ValidationFailed("payer_fhash is a 64-character hash.", code="malformed_message")
    signed_in_at, account_ref = _sign_in(body)
    _within_rate(sender)
    db.session.add(PayerSubscription(province=sender, payer_fhash=fhash, signed_in_at=signed_in_at, account_ref=account_ref,
                                     jti=jti, statement=token))
    db.session.commit()
    log.info("payer subscription accepted", extra={"sender": sender})
    _index(fhash, sender, "account")
    announcements, incomplete = [], []
    for province in _provinces(fhash, "issuer"):
        if province == sender:
            continue
        try:
            announcements += _ask(province, "payer.pull", {"payer_fhash": fhash}).get("announcements") or []
        except Exception as exc:  # noqa: BLE001 - the subscriber retries for the missing provinces
            log.warning("pull from province %s failed: %s", province, type(exc).__name__)
            incomplete.append(province)
    return 200, {"announcements": announcements, "incomplete": incomplete}


def forward(token: str, aud: str):
    """A request addressed to a node: passed on unchanged; its signed answer comes back as is."""
    url = node_url(aud)
    if url is None:
        raise NotFound(f"No node for province {aud} in the directory.", code="node_not_found", title="目录中没有该省节点")
    timeout = float(current_app.config["FEDERATION_TIMEOUT_SECONDS"])
    return transport.post(url, token, timeout=timeout)


def subscriptions(province: str | None = None, payer_fhash: str | None = None, cursor: int | None = None, limit: int = 50) -> dict:
    """Operators' audit of subscriptions, newest first."""
    query = select(PayerSubscription).order_by(PayerSubscription.id.desc()).limit(limit + 1)
    if province:
        query = query.where(PayerSubscription.province == province)
    if payer_fhash:
        query = query.where(PayerSubscription.payer_fhash == payer_fhash)
    if cursor is not None:
        query = query.where(PayerSubscription.id < cursor)
    rows = db.session.scalars(query).all()
    items = [{"id": r.id, "province": r.province, "payer_fhash": r.payer_fhash, "signed_in_at": as_utc(r.signed_in_at).isoformat(),
              "account_ref": r.account_ref, "jti": r.jti, "received_at": as_utc(r.received_at).isoformat(), "statement": r.statement}
             for r in rows[:limit]]
    return {"items": items, "next_cursor": str(rows[limit - 1].id) if len(rows) > limit else None}


def stats() -> dict:
    from sqlalchemy import func

    from backend.federation.models import FederationMessage, FederationNode

    return {
        "nodes": db.session.scalar(select(func.count()).select_from(FederationNode)),
        "payers_indexed": db.session.scalar(select(func.count(func.distinct(PayerIndexEntry.payer_fhash)))),
        "index_entries": dict(db.session.execute(select(PayerIndexEntry.role, func.count()).group_by(PayerIndexEntry.role)).all()),
        "messages": dict(db.session.execute(select(FederationMessage.type, func.count()).group_by(FederationMessage.type)).all()),
    }
