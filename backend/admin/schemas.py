from marshmallow import Schema, fields, validate


class IssuerCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    credit_code = fields.String(required=True)
    province = fields.String(required=True)
    public_key_pem = fields.String(required=True)
    alg = fields.String(load_default="ES256")


class IssuerSchema(Schema):
    id = fields.String()
    name = fields.String()
    credit_code = fields.String()
    province = fields.String()
    alg = fields.String()
    status = fields.String()
    created_at = fields.DateTime()


class IssuerKeySchema(Schema):
    id = fields.String(metadata={"description": "the key's id, to retire it"})
    alg = fields.String()
    fingerprint = fields.String(metadata={"description": "SHA-256 (hex) of the DER SubjectPublicKeyInfo"})
    public_key_pem = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True, metadata={"description": "null: valid until a newer key is registered"})
    valid = fields.Boolean(metadata={"description": "verifies the issuer's seal now"})


class IssuerKeyCreateSchema(Schema):
    public_key_pem = fields.String(required=True)
    alg = fields.String(load_default="ES256")
    overlap_hours = fields.Integer(load_default=72, validate=validate.Range(min=0, max=24 * 30), metadata={
        "description": "how long the keys valid so far keep verifying, while the hospital's systems switch over"})


class CodeSeriesSchema(Schema):
    id = fields.String(dump_only=True)
    code = fields.String(required=True, metadata={"description": "8-digit receipt code (票据代码)", "example": "46060125"})
    number_from = fields.String(required=True, metadata={"description": "first number, 10 digits", "example": "0000000001"})
    number_to = fields.String(required=True, metadata={"description": "last number, 10 digits, inclusive", "example": "0000999999"})
    created_at = fields.DateTime(dump_only=True)


class IssuerCreatedSchema(IssuerSchema):
    webhook_secret = fields.String(metadata={"description": "`whsec_…`, shown only once"})


class WebhookSecretSchema(Schema):
    webhook_secret = fields.String()


UNIT_KINDS_DOC = "social_insurance (医保经办机构) | commercial_insurer (商业保险公司) | employer (用人单位) | other"


class UnitCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    credit_code = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": UNIT_KINDS_DOC})
    province = fields.String(required=True)


class UnitSchema(Schema):
    id = fields.String()
    name = fields.String()
    credit_code = fields.String()
    kind = fields.String()
    province = fields.String()
    status = fields.String(metadata={"description": "active | frozen | cancelled"})
    status_reason = fields.String(allow_none=True)
    status_changed_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class UnitCreatedSchema(UnitSchema):
    client_id = fields.String()
    client_secret = fields.String(metadata={"description": "shown only once"})


class UnitStatusChangeSchema(Schema):
    reason = fields.String(validate=validate.Length(max=500))


class CredentialsSchema(Schema):
    client_id = fields.String()
    client_secret = fields.String()


class ProofLockoutSchema(Schema):
    key = fields.String(metadata={"description": "receipt key {code}-{number}"})
    locked_until = fields.String(metadata={"format": "date-time"})
    since = fields.String(metadata={"format": "date-time"})


class ProofLockoutListSchema(Schema):
    items = fields.List(fields.Nested(ProofLockoutSchema))
