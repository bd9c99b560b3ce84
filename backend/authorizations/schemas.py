from marshmallow import RAISE, Schema, fields, validate

from backend.common.validators import FullMatch, Timestamp
from backend.receipts.schemas import UnitRefSchema as UnitViewSchema

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
    expires_at = Timestamp()
    purpose = fields.String()
    reference = fields.String(allow_none=True)
    amount_cap = fields.String(allow_none=True)


class RequestStatusSchema(Schema):
    id = fields.String()
    status = fields.String(metadata={"description": "pending | approved | declined | expired"})
    purpose = fields.String()
    reference = fields.String(allow_none=True)
    amount_cap = fields.String(allow_none=True)
    created_at = Timestamp()
    expires_at = Timestamp()
    scanned = fields.Boolean()
    decided_at = Timestamp(allow_none=True)
    receipt_keys = fields.List(fields.String())
    authorization_id = fields.String(allow_none=True)
    authorization_expires_at = Timestamp(allow_none=True)


class ScanSchema(Strict):
    qr_text = fields.String(required=True, validate=validate.Length(min=1, max=500))


class ApproveSchema(Strict):
    receipt_keys = fields.List(fields.String(validate=KEY), required=True, validate=validate.Length(min=1, max=100))


# --- answers (documented; the services build them) ------------------------------------

class EligibleReceiptSchema(Schema):
    key = fields.String(metadata={"example": "46060125-0000012345"})
    title = fields.String()
    issuer = fields.String(metadata={"description": "the issuing hospital's name"})
    issue_date = fields.Date()
    total_amount = fields.String(metadata={"example": "356.80"})
    remaining_amount = fields.String(metadata={"example": "356.80"})
    display_status = fields.String(metadata={"example": "正常"})


class ScanResultSchema(Schema):
    id = fields.String(metadata={"description": "the authorization request, to approve or decline"})
    unit = fields.Nested(UnitViewSchema, metadata={"description": "verified by this node, never taken from the QR"})
    purpose = fields.String(metadata={"example": "医保零星报销"})
    reference = fields.String(allow_none=True)
    amount_cap = fields.String(allow_none=True)
    expires_at = Timestamp(metadata={"description": "decide before this"})
    eligible_receipts = fields.List(fields.Nested(EligibleReceiptSchema))


class ApprovedSchema(Schema):
    id = fields.String(metadata={"description": "the authorization (consent record)"})
    request_id = fields.String()
    status = fields.String(metadata={"example": "approved"})
    unit = fields.Nested(UnitViewSchema)
    receipt_keys = fields.List(fields.String())
    expires_at = Timestamp()


class DeclinedSchema(Schema):
    request_id = fields.String()
    status = fields.String(metadata={"example": "declined"})


class AuthorizedReceiptViewSchema(Schema):
    key = fields.String()
    revoked_at = Timestamp(allow_none=True)
    locked = fields.Boolean(metadata={"description": "locked by this unit now: revocation leaves it to the unit"})


class AuthorizationSchema(Schema):
    id = fields.String()
    unit = fields.Nested(UnitViewSchema)
    purpose = fields.String()
    reference = fields.String(allow_none=True)
    amount_cap = fields.String(allow_none=True)
    created_at = Timestamp()
    expires_at = Timestamp()
    revoked_at = Timestamp(allow_none=True)
    status = fields.String(metadata={"description": "active | revoked | expired"})
    receipts = fields.List(fields.Nested(AuthorizedReceiptViewSchema))


class AuthorizationListSchema(Schema):
    items = fields.List(fields.Nested(AuthorizationSchema))
    next_cursor = fields.String(allow_none=True)


class KeptReceiptSchema(Schema):
    key = fields.String()
    reason = fields.String(metadata={"example": "locked"})
    detail = fields.String()


class RevokedSchema(Schema):
    id = fields.String()
    revoked = fields.List(fields.String(), metadata={"description": "receipt keys no longer authorized"})
    kept = fields.List(fields.Nested(KeptReceiptSchema), metadata={"description": "receipts the unit has locked: they stay with it until the lock ends"})
    status = fields.String()


class ClaimSchema(Schema):
    unit = fields.Nested(UnitViewSchema)
    receipt_key = fields.String()
    receipt_title = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "已授权 | 报销中 | 已报销 | 已拒绝 | 已撤销 | 已过期 | 已解锁", "example": "报销中"})
    status_code = fields.String(metadata={"description": "authorized | in_progress | reimbursed | rejected | revoked | expired | unlocked"})
    amount = fields.String(allow_none=True, metadata={"description": "reimbursed by this unit, decimal string"})
    reason = fields.String(allow_none=True, metadata={"description": "why the unit rejected"})
    reference = fields.String(allow_none=True)
    authorized_at = Timestamp(allow_none=True)
    locked_at = Timestamp(allow_none=True)
    decided_at = Timestamp(allow_none=True)


class ClaimListSchema(Schema):
    items = fields.List(fields.Nested(ClaimSchema))


class AccessorSchema(Schema):
    type = fields.String(metadata={"description": "unit | operator"})
    id = fields.String()
    name = fields.String()


class AccessEntrySchema(Schema):
    accessor = fields.Nested(AccessorSchema)
    action = fields.String(metadata={"description": "read | verify | lock | …"})
    at = Timestamp()


class AccessLogSchema(Schema):
    items = fields.List(fields.Nested(AccessEntrySchema))
