"""Prometheus metrics at `/metrics` (prometheus_client), for operators only.

- request latency histograms by method, route (the URL rule, not the path: no IDs, bounded
  cardinality) and status;
- at scrape time, from the database and Redis: queue depths, outbox lag (age of the oldest
  undelivered event), unit-webhook deliveries by status, open locks, pending hub
  announcements;
- live SSE connections of this process.

Access: `Authorization: Bearer $METRICS_TOKEN`; without METRICS_TOKEN, only from loopback.
Under gunicorn with several workers set PROMETHEUS_MULTIPROC_DIR (prometheus_client's
multiprocess mode) so every worker's counts are summed.
"""
import hmac
import os
import time

from flask import Blueprint, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from backend.common.errors import Unauthorized

REQUEST_SECONDS = Histogram("piaojia_http_request_duration_seconds", "HTTP request latency", ["method", "route", "status"],
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
SSE_CONNECTIONS = Gauge("piaojia_sse_connections", "Open live streams (Server-Sent Events)", multiprocess_mode="livesum")

blp = Blueprint("metrics", __name__)


class StateCollector:
    """Figures read at scrape time from the database and Redis (one process answers them)."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        from sqlalchemy import func, select

        from backend.common.models import as_utc, utcnow
        from backend.common.queues import ALL_QUEUES, get_queue
        from backend.events.models import OutboxEvent
        from backend.extensions import db
        from backend.notifications.models import UnitWebhookDelivery
        from backend.receipts.models import Receipt

        with self.app.app_context():
            now = utcnow()
            oldest = db.session.scalar(select(func.min(OutboxEvent.occurred_at)).where(OutboxEvent.dispatched_at.is_(None)))
            lag = GaugeMetricFamily("piaojia_outbox_lag_seconds", "Age of the oldest undelivered outbox event (0: none)")
            lag.add_metric([], (now - as_utc(oldest)).total_seconds() if oldest else 0.0)
            yield lag
            pending = GaugeMetricFamily("piaojia_outbox_undelivered", "Outbox events not yet delivered")
            pending.add_metric([], db.session.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.dispatched_at.is_(None))))
            yield pending
            hub = GaugeMetricFamily("piaojia_hub_announcements_pending", "Receipt changes waiting for the federation hub")
            hub.add_metric([], db.session.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.hub_pending.is_(True))))
            yield hub
            deliveries = GaugeMetricFamily("piaojia_unit_webhook_deliveries", "Unit webhook deliveries by status", labels=["status"])
            for status, count in db.session.execute(select(UnitWebhookDelivery.status, func.count()).group_by(UnitWebhookDelivery.status)):
                deliveries.add_metric([status], count)
            yield deliveries
            locks = GaugeMetricFamily("piaojia_open_locks", "Receipts locked by a unit now")
            locks.add_metric([], db.session.scalar(select(func.count()).select_from(Receipt).where(
                Receipt.lock_id.is_not(None), Receipt.lock_expires_at > now, Receipt.synced_at.is_(None))))
            yield locks
            queues = GaugeMetricFamily("piaojia_queue_depth", "Jobs waiting per RQ queue", labels=["queue"])
            for name in ALL_QUEUES:
                queue = get_queue(name)
                if queue is not None:
                    try:
                        queues.add_metric([name], len(queue))
                    except Exception:  # noqa: BLE001 - Redis away: the figure is missing, the scrape still answers
                        pass
            yield queues
            db.session.remove()


def _allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "").partition(" ")[2]
        return hmac.compare_digest(given.encode(), token.encode())
    return request.remote_addr in ("127.0.0.1", "::1")


@blp.get("/metrics")
def metrics():
    if not _allowed():
        raise Unauthorized("Metrics are for operators.", code="metrics_forbidden")
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_SECONDS)
        registry.register(SSE_CONNECTIONS)
    registry.register(StateCollector(current_app._get_current_object()))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def init_app(app):
    @app.before_request
    def _start():
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response):
        started = g.pop("metrics_started", None)
        if started is not None:
            route = request.url_rule.rule if request.url_rule is not None else "unmatched"
            REQUEST_SECONDS.labels(request.method, route, str(response.status_code)).observe(time.perf_counter() - started)
        return response
