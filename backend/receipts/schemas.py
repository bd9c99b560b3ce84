"""Marshmallow schemas of the receipt wire form (DESIGN §2) and the issuer webhook.

Loading is strict: unknown fields are refused at every level, money stays a string with
exactly two decimals (business rules in `rules.py` add it up), dates are ISO 8601.
"""
from marshmallow import RAISE, Schema, fields, validate

from backend.common.validators import FullMatch, IsoDate, Timestamp

AMOUNT = FullMatch(r"^[0-9]{1,13}\.[0-9]{2}$", error="must be a decimal string with exactly 2 places, e.g. \"356.80\"")
QUANTITY = FullMatch(r"^[0-9]{1,9}(\.[0-9]{1,4})?$", error="must be a decimal string with at most 4 places")
RATE = FullMatch(r"^[0-9]{1,13}(\.[0-9]{1,4})?$", error="must be a decimal string with at most 4 places")
CODE = FullMatch(r"^[0-9]{8}$", error="票据代码 must be 8 digits")
NUMBER = FullMatch(r"^[0-9]{10}$", error="票据号码 must be 10 digits")
CHECK_CODE = FullMatch(r"^[A-Za-z0-9]{6}$", error="校验码 must be 6 letters or digits")
CREDIT_CODE = FullMatch(
    r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$", error="must be an 18-character unified social credit code"
)
ID_NUMBER = FullMatch(r"^[0-9A-Za-z()\-]{5,32}$", error="must be 5 to 32 letters or digits")
ID_TYPES = ("resident_id", "passport", "hk_macao_permit", "taiwan_permit", "foreigner_permanent_residence", "military_id", "organization", "other")


def Text(max_len=200, required=False, **kw):
    return fields.String(required=required, validate=validate.Length(min=0 if not required else 1, max=max_len), **kw)


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class IssuerRefSchema(StrictSchema):
    name = Text(200, required=True)
    credit_code = fields.String(required=True, validate=CREDIT_CODE)


class PayerSchema(StrictSchema):
    name = Text(100, required=True)
    id_type = fields.String(required=True, validate=validate.OneOf(ID_TYPES))
    id_number = fields.String(required=True, validate=ID_NUMBER)


class PayerAnswerSchema(PayerSchema):
    """The payer as answered: `id_number` masked (first 3 and last 4 kept, e.g.
    `460***********1234`) to anyone but the payer."""

    id_number = fields.String(required=True, validate=FullMatch(r"^[0-9A-Za-z()*\-]{5,32}$"), metadata={
        "description": "masked except to the payer, e.g. 460***********1234", "example": "460***********1234"})


class PaymentsSchema(StrictSchema):
    fund_paid = fields.String(required=True, validate=AMOUNT)
    account_paid = fields.String(required=True, validate=AMOUNT)
    cash_paid = fields.String(required=True, validate=AMOUNT)
    other_paid = fields.String(required=True, validate=AMOUNT)
    self_pay = fields.String(validate=AMOUNT)
    self_expense = fields.String(validate=AMOUNT)


class VisitSchema(StrictSchema):
    visit_type = fields.String(required=True, validate=validate.OneOf(("outpatient", "emergency", "inpatient", "physical_exam", "other")))
    visit_date = IsoDate()
    admission_date = IsoDate()
    discharge_date = IsoDate()
    department = Text(100)
    medical_record_no = Text(64)
    inpatient_no = Text(64)
    insurance_type = Text(64)
    insurance_no = Text(64)
    institution_type = Text(64)
    hospitalization_days = fields.Integer(validate=validate.Range(min=0, max=36500), strict=True)
    gender = Text(8)
    age = fields.Integer(validate=validate.Range(min=0, max=150), strict=True)


class ItemSchema(StrictSchema):
    code = Text(32)
    name = Text(100, required=True)
    quantity = fields.String(required=True, validate=QUANTITY)
    unit = Text(16)
    rate = fields.String(required=True, validate=RATE)
    amount = fields.String(required=True, validate=AMOUNT)
    remark = Text(200)


class DetailItemSchema(ItemSchema):
    category = Text(100)
    specification = Text(100)


class SignatureSchema(StrictSchema):
    alg = fields.String(required=True, validate=validate.OneOf(("ES256", "SM2")))
    value = fields.String(required=True, validate=validate.Length(min=16, max=512))


class ReceiptWireSchema(StrictSchema):
    code = fields.String(required=True, validate=CODE)
    number = fields.String(required=True, validate=NUMBER)
    check_code = fields.String(required=True, validate=CHECK_CODE)
    title = Text(100, required=True)
    kind = fields.String(required=True, validate=validate.OneOf(("outpatient", "inpatient")))
    issue_date = IsoDate(required=True)
    issued_at = fields.AwareDateTime(required=True)
    issuer = fields.Nested(IssuerRefSchema, required=True)
    clerk = Text(50)
    checker = Text(50)
    payer = fields.Nested(PayerSchema, required=True)
    total_amount = fields.String(required=True, validate=AMOUNT)
    payments = fields.Nested(PaymentsSchema, required=True)
    visit = fields.Nested(VisitSchema, required=True)
    items = fields.List(fields.Nested(ItemSchema), required=True, validate=validate.Length(min=1, max=200))
    detail_items = fields.List(fields.Nested(DetailItemSchema), validate=validate.Length(max=2000))
    remark = Text(500)
    signature = fields.Nested(SignatureSchema, required=True)


class ReceiptRefSchema(StrictSchema):
    code = fields.String(required=True, validate=CODE)
    number = fields.String(required=True, validate=NUMBER)


class RedReceiptRefSchema(ReceiptRefSchema):
    check_code = fields.String(required=True, validate=CHECK_CODE)


class RedReversalSchema(ReceiptRefSchema):
    reason = Text(500, required=True)
    red_receipt = fields.Nested(RedReceiptRefSchema, required=True)


class PaperExchangeSchema(ReceiptRefSchema):
    paper_receipt = fields.Nested(ReceiptRefSchema, required=True)
    reason = Text(500)


class VoidSchema(ReceiptRefSchema):
    reason = Text(500, required=True)


class BatchSchema(StrictSchema):
    """A backfill: up to 500 issued receipts, each with its own seal, checked one by one."""

    receipts = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1, max=500))


EVENT_SCHEMAS = {
    "receipt.batch": BatchSchema,
    "receipt.issued": ReceiptWireSchema,
    "receipt.red_reversed": RedReversalSchema,
    "receipt.paper_exchanged": PaperExchangeSchema,
    "receipt.voided": VoidSchema,
}


class WebhookEnvelopeSchema(StrictSchema):
    type = fields.String(required=True, validate=validate.OneOf(tuple(EVENT_SCHEMAS)))
    data = fields.Dict(required=True)


class BatchItemResultSchema(Schema):
    index = fields.Integer()
    key = fields.String(allow_none=True)
    result = fields.String(metadata={"description": "applied | unchanged | refused"})
    code = fields.String(metadata={"description": "the refusal's problem code"})
    title = fields.String()
    detail = fields.String()
    errors = fields.Raw()


class WebhookAcceptedSchema(Schema):
    key = fields.String(metadata={"example": "46060125-0000012345", "description": "single events"})
    type = fields.String(required=True)
    result = fields.String(metadata={"description": "single events: `applied`, or `unchanged` when the same content was already accepted"})
    applied = fields.Integer(metadata={"description": "receipt.batch: how many were accepted"})
    unchanged = fields.Integer()
    refused = fields.Integer()
    results = fields.List(fields.Nested(BatchItemResultSchema), metadata={"description": "receipt.batch: a result per receipt, in order"})


# --- receipt answers (documented; presenters build them) -------------------------------

class UnitRefSchema(Schema):
    """A reimbursing unit as citizens and other units see it."""

    id = fields.String()
    name = fields.String(metadata={"example": "三亚市医疗保障局"})
    credit_code = fields.String(metadata={"description": "统一社会信用代码, 18 characters", "example": "11460200MB0000001X"})
    kind = fields.String(metadata={"description": "social_insurance | commercial_insurer | employer | other"})
    kind_label = fields.String(metadata={"example": "医保经办机构"})


class LockViewSchema(Schema):
    unit = fields.Nested(UnitRefSchema)
    locked_at = Timestamp()
    expires_at = Timestamp()
    lock_token = fields.String(metadata={"description": "only in answers to the lock holder"})


class TimelineActorSchema(Schema):
    type = fields.String(metadata={"description": "issuer | unit | citizen | operator | system"})
    id = fields.String(allow_none=True)
    name = fields.String(allow_none=True)


class TimelineEntrySchema(Schema):
    event = fields.String(metadata={"example": "receipt.locked"})
    at = Timestamp()
    actor = fields.Nested(TimelineActorSchema)
    reason = fields.String(allow_none=True)
    data = fields.Dict(allow_none=True)


class LedgerEntryViewSchema(Schema):
    unit = fields.Nested(UnitRefSchema)
    settlement = fields.Dict(allow_none=True, metadata={"description": "the split a social-insurance centre settled (fund_paid, account_paid, …)"})
    outcome = fields.String(metadata={"description": "reimbursed | rejected"})
    amount = fields.String(metadata={"example": "200.00"})
    reimbursed_at = Timestamp()
    reference = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


class SupervisionSignatureSchema(Schema):
    alg = fields.String(metadata={"example": "ES256"})
    kid = fields.String()
    value = fields.String()


class UnitCheckSchema(Schema):
    name = fields.String(metadata={"example": "三亚市医疗保障局"})
    count = fields.Integer(metadata={"example": 2})
    last_checked_at = Timestamp()


class CheckSummarySchema(Schema):
    """查验次数 as the payer sees it; of the checkers, only units are named."""

    count = fields.Integer(metadata={"description": "checks that identified the receipt (wrong guesses never count)", "example": 3})
    last_checked_at = Timestamp(allow_none=True, metadata={"description": "null when never checked"})
    by_channel = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "count per channel: elements (POST /verify), layout (POST /verify/layout), data_file "
                       "(POST /verify/data-file), qr_page (the printed QR's page), unit (a unit's interface-mode check)",
        "example": {"elements": 1, "layout": 0, "qr_page": 0, "unit": 2, "data_file": 0}})
    units = fields.List(fields.Nested(UnitCheckSchema), metadata={"description": "units that checked it, latest first: name only"})


class ReceiptAnswerSchema(ReceiptWireSchema):
    """A receipt as answered: the wire form (payer.id_number masked except to its owner) and
    its status; `timeline` and `ledger` in detail answers only, `checks` in the payer's own detail."""

    class Meta:
        unknown = RAISE

    payer = fields.Nested(PayerAnswerSchema, required=True)
    key = fields.String(metadata={"example": "46060125-0000012345"})
    province = fields.String(metadata={"description": "issuing province (first two digits of the code)", "example": "46"})
    supervision_signature = fields.Nested(SupervisionSignatureSchema, allow_none=True)
    lifecycle = fields.String(metadata={"description": "issued | red_reversed | paper_exchanged | voided"})
    lifecycle_detail = fields.Dict(allow_none=True, metadata={"description": "the red or paper receipt, the reason"})
    lock = fields.Nested(LockViewSchema, allow_none=True)
    reimbursement = fields.String(metadata={"description": "none | partial | full"})
    reimbursed_amount = fields.String(metadata={"example": "200.00"})
    remaining_amount = fields.String(metadata={"example": "156.80"})
    display_status = fields.String(metadata={"description": "正常 | 已授权 | 报销中 | 部分报销 | 已报销 | 已冲红 | 已换开 | 已作废"})
    timeline = fields.List(fields.Nested(TimelineEntrySchema))
    ledger = fields.List(fields.Nested(LedgerEntryViewSchema))
    checks = fields.Nested(CheckSummarySchema, metadata={"description": "only in the payer's own detail (GET /api/v1/me/receipts/{key})"})


class ReceiptPageSchema(Schema):
    items = fields.List(fields.Nested(ReceiptAnswerSchema))
    next_cursor = fields.String(allow_none=True, metadata={"description": "pass as `cursor` for the next page; null at the end"})


class JwkSchema(Schema):
    kty = fields.String()
    crv = fields.String()
    x = fields.String()
    y = fields.String()
    kid = fields.String()
    alg = fields.String()
    use = fields.String()


class JwksSchema(Schema):
    keys = fields.List(fields.Nested(JwkSchema))
