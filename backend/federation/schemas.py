from marshmallow import Schema, fields, validate

from backend.common.validators import Timestamp
from backend.receipts.schemas import JwkSchema, JwksSchema  # noqa: F401 - one Jwks schema in the spec


class DirectoryKeySchema(Schema):
    kid = fields.String()
    jwk = fields.Nested(JwkSchema)
    valid = fields.Boolean(metadata={"description": "false once retired"})


class DirectoryNodeSchema(Schema):
    province = fields.String(metadata={"example": "44"})
    url = fields.String()
    status = fields.String()
    keys = fields.List(fields.Nested(DirectoryKeySchema))


class DirectoryHubSchema(Schema):
    keys = fields.List(fields.Nested(DirectoryKeySchema))


class DirectorySchema(Schema):
    hub = fields.Nested(DirectoryHubSchema)
    nodes = fields.List(fields.Nested(DirectoryNodeSchema))


class FederationStatsSchema(Schema):
    nodes = fields.Integer()
    payers_indexed = fields.Integer()
    index_entries = fields.Dict(keys=fields.String(), values=fields.Integer())
    messages = fields.Dict(keys=fields.String(), values=fields.Integer())


class SubscriptionQuerySchema(Schema):
    province = fields.String(metadata={"description": "the subscribing node's province", "example": "44"})
    payer_fhash = fields.String(metadata={"description": "a payer's federated hash (64 hex)"})
    cursor = fields.Integer(metadata={"description": "next_cursor of the previous page"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class SubscriptionSchema(Schema):
    id = fields.Integer()
    province = fields.String(metadata={"description": "the node that subscribed"})
    payer_fhash = fields.String()
    signed_in_at = Timestamp(metadata={"description": "the sign-in the node stated"})
    account_ref = fields.String(metadata={"description": "the node's opaque reference of the account"})
    jti = fields.String(metadata={"description": "the subscription message's id"})
    received_at = Timestamp()
    statement = fields.String(metadata={"description": "the node's signed payer.subscribe message (compact JWS), kept as its statement"})


class SubscriptionPageSchema(Schema):
    items = fields.List(fields.Nested(SubscriptionSchema))
    next_cursor = fields.String(allow_none=True)
