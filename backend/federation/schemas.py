from marshmallow import Schema, fields

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
