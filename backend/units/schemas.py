from marshmallow import RAISE, Schema, fields, validate

from backend.common.validators import FullMatch, Timestamp

AMOUNT = FullMatch(r"^[0-9]{1,13}\.[0-9]{2}$", error="must be a decimal string with exactly 2 places, e.g. \"356.80\"")


class Strict(Schema):
    class Meta:
        unknown = RAISE


class LockRequestSchema(Strict):
    check_code = fields.String(metadata={"description": "interface mode: the receipt's 校验码 (proof of possession)"})
    total_amount = fields.String(validate=AMOUNT, metadata={"description": "interface mode: the receipt's total, e.g. \"356.80\""})


class LockSchema(Schema):
    key = fields.String()
    lock_token = fields.String(metadata={"description": "fencing token; needed for unlock, renew and feedback"})
    mode = fields.String(metadata={"description": "digital_account | interface"})
    locked_at = Timestamp()
    expires_at = Timestamp()


class UnlockRequestSchema(Strict):
    lock_token = fields.String(required=True)
    reason = fields.String(validate=validate.Length(max=500))


class UnlockedSchema(Schema):
    key = fields.String()
    unlocked_at = Timestamp()


class RenewRequestSchema(Strict):
    lock_token = fields.String(required=True)


class RenewedSchema(Schema):
    key = fields.String()
    expires_at = Timestamp()


class SettlementSchema(Strict):
    """What the social-insurance centre settled (医保资金结算), adding up to the amount."""

    fund_paid = fields.String(validate=AMOUNT, metadata={"description": "医保统筹基金支付"})
    account_paid = fields.String(validate=AMOUNT, metadata={"description": "个人账户支付"})
    cash_paid = fields.String(validate=AMOUNT, metadata={"description": "个人现金支付"})
    other_paid = fields.String(validate=AMOUNT, metadata={"description": "其他支付（如大病保险、医疗救助）"})


class FeedbackRequestSchema(Strict):
    lock_token = fields.String(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(("reimbursed", "rejected")))
    amount = fields.String(validate=AMOUNT, metadata={"description": "reimbursed amount; required when outcome is reimbursed"})
    reimbursed_at = fields.AwareDateTime(metadata={"description": "when the unit paid or decided; default now"})
    reference = fields.String(validate=validate.Length(max=100), metadata={"description": "the unit's claim number"})
    reason = fields.String(validate=validate.Length(max=500), metadata={"description": "required when outcome is rejected"})
    settlement = fields.Nested(SettlementSchema, metadata={"description": "optional, with `reimbursed`: the split settled; its parts add up to `amount`"})


class FeedbackSchema(Schema):
    key = fields.String()
    outcome = fields.String()
    amount = fields.String()
    reimbursed_at = Timestamp()
    reimbursed_amount = fields.String()
    remaining_amount = fields.String()
    ledger_entry_id = fields.Integer()


class ReceiptListArgsSchema(Schema):
    status = fields.String(validate=validate.OneOf(("authorized", "locked", "reimbursed", "all")), load_default="all")
    cursor = fields.String()
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class VerifyItemSchema(Strict):
    code = fields.String(required=True, validate=FullMatch(r"^[0-9]{8}$"))
    number = fields.String(required=True, validate=FullMatch(r"^[0-9]{10}$"))
    check_code = fields.String(required=True, validate=FullMatch(r"^[A-Za-z0-9]{6}$"))
    total_amount = fields.String(required=True, validate=AMOUNT)


class BatchVerifyRequestSchema(Strict):
    items = fields.List(fields.Nested(VerifyItemSchema), required=True, validate=validate.Length(min=1, max=100))


class VerifyIssuerSchema(Schema):
    name = fields.String()
    credit_code = fields.String()


class VerifyOutcomeSchema(Schema):
    index = fields.Integer(metadata={"description": "position in the request"})
    key = fields.String()
    authentic = fields.Boolean(metadata={"description": "false: unknown receipt or an element does not match (indistinguishable)"})
    lifecycle = fields.String()
    display_status = fields.String()
    reimbursement = fields.String()
    reimbursed_amount = fields.String()
    remaining_amount = fields.String()
    locked = fields.Boolean()
    locked_by_you = fields.Boolean()
    issuer = fields.Nested(VerifyIssuerSchema)
    issue_date = fields.Date()
    total_amount = fields.String()
    check_count = fields.Integer(allow_none=True, metadata={"description": "查验次数: how often the receipt has been checked by "
                                                            "anyone, this check included (authentic items only)"})
    last_checked_at = Timestamp(allow_none=True, metadata={"description": "the receipt's latest check, ISO 8601 with an offset"})


class BatchVerifyResultSchema(Schema):
    items = fields.List(fields.Nested(VerifyOutcomeSchema))
    checked_at = Timestamp()


class BookingRequestSchema(Strict):
    voucher_no = fields.String(required=True, validate=validate.Length(min=1, max=64), metadata={"description": "the accounting voucher number (记账凭证号)"})
    booked_at = Timestamp(required=True, metadata={"description": "when the voucher was booked, ISO 8601 with an offset"})
    amount = fields.String(required=True, validate=AMOUNT, metadata={"description": "amount booked, decimal string", "example": "200.00"})


class BookingSchema(Schema):
    key = fields.String()
    voucher_no = fields.String()
    booked_on = fields.String(metadata={"format": "date"})
    amount = fields.String()
    booked_at = Timestamp(metadata={"description": "when the entry was recorded"})


class TransferRequestSchema(Strict):
    to_credit_code = fields.String(required=True, validate=FullMatch(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$",
                                                                      error="must be an 18-character unified social credit code"),
                                   metadata={"description": "the receiving unit's credit code", "example": "91460000MA5T123456"})


class TransferUnitSchema(Schema):
    id = fields.String()
    name = fields.String()
    credit_code = fields.String()
    kind = fields.String()
    kind_label = fields.String()


class TransferSchema(Schema):
    id = fields.String(metadata={"description": "the authorization the receiving unit holds"})
    receipt_key = fields.String()
    to = fields.Nested(TransferUnitSchema)
    created_at = Timestamp()
    expires_at = Timestamp()
    revoked_at = Timestamp(allow_none=True)
    locked_by_recipient = fields.Boolean(metadata={"description": "then it can no longer be revoked"})


class TransferListSchema(Schema):
    items = fields.List(fields.Nested(TransferSchema))


class OwnReceiptArgsSchema(Schema):
    cursor = fields.String(validate=validate.Length(max=40))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
