from marshmallow import RAISE, Schema, fields, validate

from backend.chat.services import CHANNELS
from backend.common.validators import FullMatch, Timestamp


class Strict(Schema):
    class Meta:
        unknown = RAISE


class BindingCodeSchema(Schema):
    code = fields.String(metadata={"description": "6 digits: send it to the bot (single use)", "example": "482913"})
    expires_at = Timestamp(metadata={"description": "5 minutes after it was given"})


class RedeemSchema(Strict):
    code = fields.String(required=True, validate=FullMatch(r"^[0-9]{6}$", error="a binding code is 6 digits"))
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    external_id = fields.String(required=True, validate=validate.Length(min=1, max=128),
                                metadata={"description": "the chat account id, from the platform's signed callback (e.g. a WeChat openid)"})


class CitizenRefSchema(Schema):
    name = fields.String()


class BoundSchema(Schema):
    binding_id = fields.String()
    access_token = fields.String(metadata={"description": "delegated: read receipts, claims, notifications; revoke authorizations"})
    refresh_token = fields.String(metadata={"description": "refresh at POST /api/v1/auth/refresh; ends on unbinding"})
    token_type = fields.String()
    expires_in = fields.Integer()
    scope = fields.String(metadata={"example": "chat"})
    citizen = fields.Nested(CitizenRefSchema)


class GrantSchema(Strict):
    messages = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100))


class QuotaSchema(Schema):
    id = fields.String()
    quota_remaining = fields.Integer()
