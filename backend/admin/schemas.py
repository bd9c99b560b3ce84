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


class IssuerCreatedSchema(IssuerSchema):
    webhook_secret = fields.String(metadata={"description": "`whsec_…`, shown only once"})


class WebhookSecretSchema(Schema):
    webhook_secret = fields.String()
