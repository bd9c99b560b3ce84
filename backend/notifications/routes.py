"""Citizen inbox and live stream; units' webhook endpoint and delivery log."""
from flask import Response, current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.common.auth import citizen_required, client_required
from backend.common.idempotency import idempotent
from backend.common.redis_client import get_redis
from backend.extensions import db
from backend.notifications import chat, services, stream, unit_webhooks
from backend.notifications.channels import stream_channel
from backend.notifications.schemas import (
    ChatBindingListSchema,
    DeliveryListSchema,
    DeliverySchema,
    WebhookEndpointViewSchema,
    DeliveryArgsSchema,
    InboxArgsSchema,
    InboxSchema,
    MarkedSchema,
    MarkReadSchema,
    WebhookEndpointCreatedSchema,
    WebhookEndpointSchema,
)
from backend.units.guards import unit_of_client

blp = Blueprint("notifications", __name__, url_prefix="/api/v1/me", description="Citizens: notifications (inbox and live stream)")
unit_blp = Blueprint("unit_webhook", __name__, url_prefix="/api/v1/unit/webhook", description="Units: webhook endpoint and deliveries")


@blp.route("/notifications")
class Notifications(MethodView):
    decorators = [citizen_required]

    @blp.arguments(InboxArgsSchema, location="query")
    @blp.response(200, InboxSchema)
    @blp.doc(security=[{"bearer": []}])
    def get(self, args):
        """The inbox, newest first, with the unread count."""
        return services.inbox(g.citizen.id_hash, before=args.get("cursor"), limit=args["limit"], unread_only=args["unread"])


@blp.route("/notifications/read")
class MarkRead(MethodView):
    decorators = [citizen_required]

    @blp.arguments(MarkReadSchema)
    @blp.response(200, MarkedSchema)
    @blp.doc(security=[{"bearer": []}])
    def post(self, data):
        """Mark notifications read: `{"ids": [event ids]}` or `{"all": true}`."""
        return services.mark_read(g.citizen.id_hash, event_ids=data.get("ids"), all_=data["all"])


@blp.route("/stream")
class Stream(MethodView):
    @blp.doc(
        security=[{"bearer": []}, {}],
        parameters=[
            {"in": "header", "name": "Last-Event-ID", "schema": {"type": "string"}, "description": "resume after this event id"},
            {"in": "query", "name": "last_event_id", "schema": {"type": "string", "maxLength": 64},
             "description": "resume after this event id (for a new EventSource, which sends no Last-Event-ID)"},
            {"in": "query", "name": "ticket", "schema": {"type": "string", "maxLength": 100},
             "description": "a ticket from POST /me/stream-tickets, instead of the Authorization header"},
        ],
        responses={"200": {"description": "text/event-stream: `event:` = event type, `id:` = event id, `data:` = the notification JSON",
                           "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                   "401": {"description": "no valid Bearer token or ticket", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
                   "503": {"description": "`stream_capacity`: this web process holds WEB_STREAMS_MAX streams (production serves the stream "
                                          "from the stream server); retry after Retry-After seconds",
                           "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}},
    )
    def get(self):
        """Live stream of the citizen's events (Server-Sent Events)."""
        slot = stream.WEB_STREAM_SLOTS.take(current_app.config["WEB_STREAMS_MAX"])  # before a ticket is spent
        try:
            payer_hash, position = stream.open_stream()
        except Exception:
            slot.release()
            raise
        db.session.remove()  # hold no connection for the life of the stream
        frames = stream.events(db.engine, get_redis(), payer_hash, position, current_app.config["STREAM_MAX_SECONDS"],
                               channel=stream_channel(payer_hash))
        response = Response(stream.Held(frames, slot), mimetype="text/event-stream")
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Accel-Buffering"] = "no"
        return response


@blp.route("/chat-bindings")
class ChatBindings(MethodView):
    decorators = [citizen_required]

    @blp.alt_response(200, schema=ChatBindingListSchema, success=True)
    @blp.doc(security=[{"bearer": []}])
    def get(self):
        """My bound chat accounts, their remaining push quota and recent pushes."""
        return chat.list_bindings(g.citizen)


class UnitWebhookView(MethodView):
    decorators = [idempotent, client_required("unit")]


@unit_blp.route("")
class Endpoint(UnitWebhookView):
    @unit_blp.arguments(WebhookEndpointSchema)
    @unit_blp.response(200, WebhookEndpointCreatedSchema)
    @unit_blp.doc(security=[{"bearer": []}])
    def put(self, data):
        """Register the unit's endpoint; every event about receipts authorized to or locked
        by the unit is POSTed there, signed the Standard Webhooks way with the returned secret."""
        return unit_webhooks.set_endpoint(unit_of_client(g.client), data["url"])

    @unit_blp.alt_response(200, schema=WebhookEndpointViewSchema, success=True)
    @unit_blp.doc(security=[{"bearer": []}])
    def get(self):
        """The unit's registered endpoint (the secret is shown only when it is set)."""
        return unit_webhooks.get_endpoint(unit_of_client(g.client))


@unit_blp.route("/deliveries")
class Deliveries(UnitWebhookView):
    @unit_blp.arguments(DeliveryArgsSchema, location="query")
    @unit_blp.alt_response(200, schema=DeliveryListSchema, success=True)
    @unit_blp.doc(security=[{"bearer": []}])
    def get(self, args):
        """Delivery log: attempts, status codes, next retry."""
        return unit_webhooks.deliveries_page(unit_of_client(g.client), **args)


@unit_blp.route("/deliveries/<delivery_id>/redeliver")
class Redeliver(UnitWebhookView):
    @unit_blp.alt_response(202, schema=DeliverySchema, description="the delivery, back in line", success=True)
    @unit_blp.doc(security=[{"bearer": []}])
    def post(self, delivery_id):
        """Send a delivery again now (also one that is dead)."""
        return unit_webhooks.redeliver(unit_of_client(g.client), delivery_id), 202
