"""Units' own webhook endpoints: registration with an SSRF guard, signed delivery
attempts (Standard Webhooks), the delivery log and redelivery."""
import base64
import ipaddress
import json
import logging
import secrets
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from flask import current_app
from sqlalchemy import select
from standardwebhooks import Webhook

from backend.common.crypto import pii
from backend.common.pinned_http import post_pinned
from backend.common.errors import NotFound, ValidationFailed
from backend.common.models import as_utc, utcnow
from backend.extensions import db
from backend.events.models import OutboxEvent
from backend.notifications.models import UnitWebhookDelivery
from backend.units.models import Unit

log = logging.getLogger(__name__)
SECRET_CONTEXT = "unit-webhook-secret"
CONNECT_TIMEOUT, READ_TIMEOUT = 5, 10  # together ≤ 15 s


class UnsafeTarget(ValidationFailed):
    code = "unsafe_webhook_target"
    title = "回调地址不被允许"


@dataclass
class AttemptResult:
    delivered: bool
    gone: bool
    status_code: int | None
    error: str | None
    duration_ms: int


# IPv6 ranges whose addresses carry an IPv4 address that some router or relay turns into an
# IPv4 destination: the embedded address must be public too. Local-use NAT64 (RFC 8215, the
# IPv4 part's position depends on the local prefix length) and the deprecated IPv4-compatible
# ::/96 are refused outright.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_REFUSED_V6 = (ipaddress.ip_network("64:ff9b:1::/48"), ipaddress.ip_network("::/96"))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    if address in _NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address.ipv4_mapped:
        return [address.ipv4_mapped]
    if address.sixtofour:
        return [address.sixtofour]
    if address.teredo:
        return list(address.teredo)
    return []


def _public_address(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    if not address.is_global or address.is_multicast:
        return False
    if address.version == 6:
        if any(address in network for network in _REFUSED_V6):
            return False
        return all(_public_address(str(v4)) for v4 in _embedded_ipv4(address))
    return True


def check_target(url: str) -> str | None:
    """Refuses URLs that are not http(s) or that resolve to private, loopback, link-local
    or otherwise non-public addresses (also inside NAT64, 6to4, Teredo and IPv4-mapped IPv6
    addresses), unless WEBHOOK_ALLOW_PRIVATE_TARGETS is set. Returns the checked address to
    connect to (None when the check is off): resolving again at connect time could answer
    differently."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeTarget("The webhook URL must be an absolute http(s) URL.")
    if parts.username or parts.password:
        raise UnsafeTarget("The webhook URL must not carry credentials.")
    if current_app.config.get("WEBHOOK_ALLOW_PRIVATE_TARGETS"):
        return None
    if parts.scheme != "https":
        raise UnsafeTarget("The webhook URL must use https.")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        raise UnsafeTarget("The webhook host does not resolve.")
    if not infos or not all(_public_address(info[4][0]) for info in infos):
        raise UnsafeTarget("The webhook host resolves to a private or reserved address.")
    return infos[0][4][0]


def set_endpoint(unit: Unit, url: str) -> dict:
    """Registers (or replaces) the unit's endpoint and gives it a fresh `whsec_` secret."""
    from backend.units.guards import require_active

    require_active(unit)
    check_target(url)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    unit.webhook_url = url
    unit.webhook_secret_enc = pii().encrypt(secret, SECRET_CONTEXT)
    db.session.commit()
    return {"url": url, "secret": secret}


def get_endpoint(unit: Unit) -> dict:
    return {"url": unit.webhook_url}


def payload(event: OutboxEvent) -> dict:
    return {"type": event.type, "timestamp": as_utc(event.occurred_at).isoformat(),
            "data": {"event_id": event.id, "receipt_key": event.receipt_key, **(event.data or {})}}


def attempt(delivery: UnitWebhookDelivery) -> AttemptResult:
    unit = db.session.get(Unit, delivery.unit_id)
    event = db.session.get(OutboxEvent, delivery.event_id)
    started = time.monotonic()
    if unit is None or not unit.webhook_url or unit.status == "cancelled":
        return AttemptResult(False, True, None, "the unit has no active endpoint", 0)
    try:
        address = check_target(unit.webhook_url)  # again at send time: DNS may have changed
    except UnsafeTarget as exc:
        return AttemptResult(False, False, None, exc.detail, 0)
    body = json.dumps(payload(event), ensure_ascii=False)
    now = utcnow()
    secret = pii().decrypt(unit.webhook_secret_enc, SECRET_CONTEXT)
    headers = {
        "content-type": "application/json",
        "user-agent": "Piaojia-Webhooks/1",
        # The event id is the webhook-id: the same across retries, so receivers deduplicate.
        "webhook-id": event.id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(event.id, now, body),
    }
    try:
        options = {"data": body.encode(), "headers": headers, "timeout": (CONNECT_TIMEOUT, READ_TIMEOUT), "allow_redirects": False}
        if address is None:
            resp = requests.post(unit.webhook_url, **options)
        else:
            resp = post_pinned(unit.webhook_url, address, **options)
    except requests.RequestException as exc:
        return AttemptResult(False, False, None, type(exc).__name__, int((time.monotonic() - started) * 1000))
    duration = int((time.monotonic() - started) * 1000)
    if 200 <= resp.status_code < 300:
        return AttemptResult(True, False, resp.status_code, None, duration)
    return AttemptResult(False, resp.status_code == 410, resp.status_code, f"HTTP {resp.status_code}", duration)


def list_deliveries(unit: Unit, *, status=None, limit=50) -> list[UnitWebhookDelivery]:
    query = select(UnitWebhookDelivery).where(UnitWebhookDelivery.unit_id == unit.id)
    if status:
        query = query.where(UnitWebhookDelivery.status == status)
    return db.session.scalars(query.order_by(UnitWebhookDelivery.created_at.desc()).limit(limit)).all()


def delivery_view(d: UnitWebhookDelivery, events: dict) -> dict:
    event = events.get(d.event_id)
    return {"id": d.id, "event_id": d.event_id, "event_type": event.type if event else None, "status": d.status,
            "attempts": d.attempts, "last_status_code": d.last_status_code, "last_error": d.last_error,
            "last_attempt_at": as_utc(d.last_attempt_at).isoformat() if d.last_attempt_at else None,
            "next_attempt_at": as_utc(d.next_attempt_at).isoformat() if d.next_attempt_at else None,
            "delivered_at": as_utc(d.delivered_at).isoformat() if d.delivered_at else None,
            "created_at": as_utc(d.created_at).isoformat(), "log": d.log or []}


def deliveries_page(unit: Unit, **kwargs) -> dict:
    rows = list_deliveries(unit, **kwargs)
    events = {e.id: e for e in db.session.scalars(select(OutboxEvent).where(OutboxEvent.id.in_({d.event_id for d in rows})))}
    return {"items": [delivery_view(d, events) for d in rows]}


def redeliver(unit: Unit, delivery_id: str) -> dict:
    from backend.notifications.jobs import redeliver as put_back

    delivery = db.session.get(UnitWebhookDelivery, delivery_id)
    if delivery is None or delivery.unit_id != unit.id:
        raise NotFound("No such delivery.", code="delivery_not_found", title="未找到该推送记录")
    if not unit.webhook_url:
        raise ValidationFailed("Register a webhook URL first.", code="no_webhook_endpoint")
    put_back(delivery)
    db.session.commit()
    event = db.session.get(OutboxEvent, delivery.event_id)
    return delivery_view(delivery, {event.id: event})
