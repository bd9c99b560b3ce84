"""Delivery channels for one event: inbox, live stream, chat push, unit webhooks."""
import json
import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backend.common.models import utcnow
from backend.common.redis_client import get_redis
from backend.extensions import db
from backend.notifications.messages import render
from backend.events.models import OutboxEvent
from backend.chat.models import ChatBinding, ChatPush
from backend.notifications.models import Notification, UnitWebhookDelivery
from backend.notifications.push import get_push_adapter
from backend.common.validators import iso_timestamp

log = logging.getLogger(__name__)


def stream_channel(payer_hash: str, config=None) -> str:
    from backend.common.redis_client import node_namespace

    return f"piaojia:{node_namespace(config)}:stream:{payer_hash}"


def _receipt_label(event: OutboxEvent) -> str | None:
    from backend.receipts.models import Receipt

    if event.receipt_id is None:
        return None
    found = db.session.execute(select(Receipt.number, Receipt.elements).where(Receipt.id == event.receipt_id)).first()
    if found is None:
        return None
    number, elements = found
    issuer = elements.get("issuer", {}).get("name", "")
    return f"{issuer}开具的{elements.get('total_amount', '')}元票据（{number}）"


def notification_payload(n: Notification) -> dict:
    return {"id": n.event_id, "notification_id": n.id, "type": n.type, "title": n.title, "body": n.body,
            "receipt_key": n.receipt_key, "data": n.data, "created_at": iso_timestamp(n.created_at),
            "read": n.read_at is not None}


def _insert_once(dialect: str):
    """INSERT … ON CONFLICT (event, payer) DO NOTHING RETURNING id, in the database's dialect."""
    from sqlalchemy.dialects import postgresql, sqlite

    module = postgresql if dialect == "postgresql" else sqlite
    table = Notification.__table__
    return module.insert(table).on_conflict_do_nothing(index_elements=[table.c.event_id, table.c.payer_hash]).returning(table.c.id)


_INSERT_ONCE = {dialect: _insert_once(dialect) for dialect in ("postgresql", "sqlite")}


def to_inbox(event: OutboxEvent) -> Notification | None:
    """Stores the inbox entry once (unique per event and payer): one statement, which a
    repeated or concurrent run of the same job leaves alone; that run's entry stands."""
    if not event.payer_hash:
        return None
    title, body = render(event.type, event.data, _receipt_label(event))
    values = dict(payer_hash=event.payer_hash, event_id=event.id, type=event.type, title=title, body=body,
                  receipt_key=event.receipt_key, data=event.data, created_at=event.occurred_at)
    new_id = db.session.execute(_INSERT_ONCE[db.session.get_bind().dialect.name], values).scalar()
    if new_id is None:
        return db.session.scalar(select(Notification).where(Notification.event_id == event.id, Notification.payer_hash == event.payer_hash))
    return Notification(id=new_id, read_at=None, **values)  # as stored; kept out of the session (nothing to flush)


def to_stream(notification: Notification):
    """Publishes to the live stream (at least once; clients deduplicate by event id)."""
    redis = get_redis()
    if redis is None or notification is None:
        return  # embedded default: streams poll the inbox
    redis.publish(stream_channel(notification.payer_hash), json.dumps(notification_payload(notification), ensure_ascii=False))


def to_chat(event: OutboxEvent, notification: Notification | None):
    if notification is None:
        return
    bindings = db.session.scalars(select(ChatBinding).where(ChatBinding.payer_hash == event.payer_hash, ChatBinding.active.is_(True))).all()
    adapter = get_push_adapter()
    for binding in bindings:
        if db.session.scalar(select(ChatPush.id).where(ChatPush.event_id == event.id, ChatPush.binding_id == binding.id)):
            continue
        # Claim (event, binding) before sending: a concurrent run of this job waits on the
        # unique index, then finds the claim and sends nothing.
        push = ChatPush(event_id=event.id, binding_id=binding.id, status="sending")
        try:
            with db.session.begin_nested():
                db.session.add(push)
        except IntegrityError:
            continue
        result = adapter.send(binding.channel, binding.external_id, notification_payload(notification), binding.quota_remaining)
        push.status, push.detail = result.status, result.detail
        if result.spent_quota:
            binding.quota_remaining = max(binding.quota_remaining - 1, 0)


def to_units(event: OutboxEvent) -> list[str]:
    """Creates one delivery per interested unit with an endpoint; returns the new ids."""
    from backend.units.models import Unit

    if not event.unit_ids:
        return []
    units = db.session.scalars(select(Unit).where(Unit.id.in_(event.unit_ids), Unit.webhook_url.is_not(None))).all()
    created = []
    for unit in units:
        if db.session.scalar(select(UnitWebhookDelivery.id).where(UnitWebhookDelivery.event_id == event.id, UnitWebhookDelivery.unit_id == unit.id)):
            continue
        delivery = UnitWebhookDelivery(unit_id=unit.id, event_id=event.id, status="pending", next_attempt_at=utcnow(), attempts=0, log=[])
        try:
            with db.session.begin_nested():
                db.session.add(delivery)
            created.append(delivery.id)
        except IntegrityError:
            continue
    return created
