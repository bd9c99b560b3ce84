from marshmallow import RAISE, Schema, fields, validate

from backend.common.validators import Timestamp


class InboxArgsSchema(Schema):
    cursor = fields.Integer(validate=validate.Range(min=1, max=2**63 - 1))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    unread = fields.Boolean(load_default=False)


class NotificationSchema(Schema):
    id = fields.String(metadata={"description": "the event id (SSE `id:`)"})
    notification_id = fields.Integer()
    type = fields.String()
    title = fields.String()
    body = fields.String()
    receipt_key = fields.String(allow_none=True)
    data = fields.Dict(allow_none=True)
    created_at = Timestamp()
    read = fields.Boolean()


class InboxSchema(Schema):
    items = fields.List(fields.Nested(NotificationSchema))
    next_cursor = fields.String(allow_none=True)
    unread_count = fields.Integer()


class MarkReadSchema(Schema):
    class Meta:
        unknown = RAISE

    ids = fields.List(fields.String(), validate=validate.Length(max=500), metadata={"description": "event ids"})
    all = fields.Boolean(load_default=False)


class MarkedSchema(Schema):
    marked = fields.Integer()
    unread_count = fields.Integer()


class WebhookEndpointSchema(Schema):
    class Meta:
        unknown = RAISE

    url = fields.Url(required=True, require_tld=False, schemes={"http", "https"})


class WebhookEndpointCreatedSchema(Schema):
    url = fields.String()
    secret = fields.String(metadata={"description": "`whsec_…`: verify deliveries with it (Standard Webhooks); shown once"})


class DeliveryArgsSchema(Schema):
    status = fields.String(validate=validate.OneOf(("pending", "delivered", "dead", "cancelled")))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class ChatBindingSchema(Schema):
    class Meta:
        unknown = RAISE

    channel = fields.String(required=True, validate=validate.OneOf(("wechat", "haiyiban", "dingtalk", "test")))
    external_id = fields.String(required=True, validate=validate.Length(min=1, max=128))


class QuotaGrantSchema(Schema):
    class Meta:
        unknown = RAISE

    messages = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100))


class ChatPushViewSchema(Schema):
    event_id = fields.String()
    status = fields.String(metadata={"description": "sent | no_quota | failed"})
    detail = fields.String(allow_none=True)
    at = Timestamp(allow_none=True)


class ChatBindingViewSchema(Schema):
    id = fields.String()
    channel = fields.String()
    external_id = fields.String()
    quota_remaining = fields.Integer(metadata={"description": "one-time-subscription messages left"})
    active = fields.Boolean()
    created_at = Timestamp(allow_none=True)
    recent_pushes = fields.List(fields.Nested(ChatPushViewSchema))


class ChatBindingListSchema(Schema):
    items = fields.List(fields.Nested(ChatBindingViewSchema))


class WebhookEndpointViewSchema(Schema):
    url = fields.String(allow_none=True, metadata={"description": "null: no endpoint registered"})


class DeliveryAttemptSchema(Schema):
    at = Timestamp()
    status_code = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    duration_ms = fields.Float(allow_none=True)


class DeliverySchema(Schema):
    id = fields.String()
    event_id = fields.String(metadata={"description": "also the webhook-id header"})
    event_type = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "pending | delivered | dead | cancelled"})
    attempts = fields.Integer()
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    last_attempt_at = Timestamp(allow_none=True)
    next_attempt_at = Timestamp(allow_none=True)
    delivered_at = Timestamp(allow_none=True)
    created_at = Timestamp()
    log = fields.List(fields.Nested(DeliveryAttemptSchema))


class DeliveryListSchema(Schema):
    items = fields.List(fields.Nested(DeliverySchema))
