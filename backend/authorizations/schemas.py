from marshmallow import RAISE, Schema, fields, validate

from backend.common.validators import FullMatch

KEY = FullMatch(r"^[0-9]{8}-[0-9]{10}$", error="a receipt key is {{code}}-{{number}}, e.g. 46060125-0000012345")


class Strict(Schema):
    class Meta:
        unknown = RAISE


class CreateRequestSchema(Strict):
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={"example": "医保零星报销"})
    reference = fields.String(validate=validate.Length(max=100), metadata={"description": "the unit's own claim number"})
    amount_cap = fields.String(validate=FullMatch(r"^[0-9]{1,13}\.[0-9]{2}$"),
                               metadata={"description": "optional: the most this unit may reimburse under the authorization"})


class CreatedRequestSchema(Schema):
    id = fields.String()
    qr_text = fields.String(metadata={"description": "…/q/{token}: encode it as a QR code, or use qr_png_url / qr_svg_url"})
    qr_png_url = fields.String()
    qr_svg_url = fields.String()
    expires_at = fields.DateTime()
    purpose = fields.String()
    reference = fields.String(allow_none=True)
    amount_cap = fields.String(allow_none=True)


class RequestStatusSchema(Schema):
    id = fields.String()
    status = fields.String(metadata={"description": "pending | approved | declined | expired"})
    purpose = fields.String()
    reference = fields.String(allow_none=True)
    amount_cap = fields.String(allow_none=True)
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    scanned = fields.Boolean()
    decided_at = fields.DateTime(allow_none=True)
    receipt_keys = fields.List(fields.String())
    authorization_id = fields.String(allow_none=True)
    authorization_expires_at = fields.DateTime(allow_none=True)


class ScanSchema(Strict):
    qr_text = fields.String(required=True, validate=validate.Length(min=1, max=500))


class ApproveSchema(Strict):
    receipt_keys = fields.List(fields.String(validate=KEY), required=True, validate=validate.Length(min=1, max=100))
