from marshmallow import Schema, fields, validate

from backend.common.validators import Timestamp


CREDIT_CODE_DOC = {"pattern": "^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$",
                   "description": "统一社会信用代码, 18 characters", "example": "12460200428201234X"}
PROVINCE_DOC = {"pattern": "^[0-9]{2}$", "description": "two-digit province code (GB/T 2260), e.g. 46 Hainan, 44 Guangdong",
                "example": "46"}


class IssuerCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    credit_code = fields.String(required=True, metadata=CREDIT_CODE_DOC)
    province = fields.String(required=True, metadata=PROVINCE_DOC)
    public_key_pem = fields.String(required=True, metadata={"description": "the issuer's seal key, PEM (SubjectPublicKeyInfo, P-256)"})
    alg = fields.String(load_default="ES256", metadata={"enum": ["ES256", "SM2"], "description": "ES256 (P-256) or SM2 with SM3 (signer id 1234567812345678)"})


class IssuerSchema(Schema):
    id = fields.String()
    name = fields.String()
    credit_code = fields.String()
    province = fields.String()
    alg = fields.String()
    status = fields.String()
    created_at = Timestamp()


class IssuerKeySchema(Schema):
    id = fields.String(metadata={"description": "the key's id, to retire it"})
    alg = fields.String()
    fingerprint = fields.String(metadata={"description": "SHA-256 (hex) of the DER SubjectPublicKeyInfo"})
    public_key_pem = fields.String()
    created_at = Timestamp()
    expires_at = Timestamp(allow_none=True, metadata={"description": "null: valid until a newer key is registered"})
    valid = fields.Boolean(metadata={"description": "verifies the issuer's seal now"})


class IssuerKeyCreateSchema(Schema):
    public_key_pem = fields.String(required=True)
    alg = fields.String(load_default="ES256", metadata={"enum": ["ES256", "SM2"]})
    overlap_hours = fields.Integer(load_default=72, validate=validate.Range(min=0, max=24 * 30), metadata={
        "description": "how long the keys valid so far keep verifying, while the hospital's systems switch over"})


class CodeSeriesSchema(Schema):
    id = fields.String(dump_only=True)
    code = fields.String(required=True, metadata={"description": "8-digit receipt code (票据代码)", "example": "46060125"})
    number_from = fields.String(required=True, metadata={"description": "first number, 10 digits", "example": "0000000001"})
    number_to = fields.String(required=True, metadata={"description": "last number, 10 digits, inclusive", "example": "0000999999"})
    created_at = Timestamp(dump_only=True)


class IssuerCreatedSchema(IssuerSchema):
    webhook_secret = fields.String(metadata={"description": "`whsec_…`, shown only once"})


class WebhookSecretSchema(Schema):
    webhook_secret = fields.String()


UNIT_KINDS_DOC = "social_insurance (医保经办机构) | commercial_insurer (商业保险公司) | employer (用人单位) | other"


class UnitCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    credit_code = fields.String(required=True, metadata=CREDIT_CODE_DOC)
    kind = fields.String(required=True, metadata={"description": UNIT_KINDS_DOC,
                                                  "enum": ["social_insurance", "commercial_insurer", "employer", "other"]})
    province = fields.String(required=True, metadata=PROVINCE_DOC)


class UnitSchema(Schema):
    id = fields.String()
    name = fields.String()
    credit_code = fields.String()
    kind = fields.String()
    province = fields.String()
    status = fields.String(metadata={"description": "active | frozen | cancelled"})
    status_reason = fields.String(allow_none=True)
    status_changed_at = Timestamp(allow_none=True)
    created_at = Timestamp()


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
    locked_until = Timestamp()
    since = Timestamp()


class ProofLockoutListSchema(Schema):
    items = fields.List(fields.Nested(ProofLockoutSchema))


class FailedJobSchema(Schema):
    id = fields.String()
    queue = fields.String()
    function = fields.String()
    args = fields.List(fields.String())
    ended_at = Timestamp(allow_none=True)
    error = fields.List(fields.String(), allow_none=True, metadata={"description": "the last line of the error"})


class JobsOverviewSchema(Schema):
    failed_jobs = fields.List(fields.Nested(FailedJobSchema))
    dead_webhook_deliveries = fields.Integer()
    undispatched_events = fields.Integer()
    queues = fields.Dict(keys=fields.String(), values=fields.Integer(allow_none=True),
                         metadata={"description": "jobs waiting per queue; null without Redis (jobs inline)"})


class ReceiptStatsSchema(Schema):
    total = fields.Integer()
    by_lifecycle = fields.Dict(keys=fields.String(), values=fields.Integer())
    locked_now = fields.Integer()
    total_amount = fields.String()
    reimbursed_amount = fields.String()


class FeedbackStatsSchema(Schema):
    reimbursed = fields.Integer()
    rejected = fields.Integer()


class StatsSchema(Schema):
    receipts = fields.Nested(ReceiptStatsSchema)
    feedback = fields.Nested(FeedbackStatsSchema)
    units = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": "by status"})
    issuers = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": "by status"})
    as_of = Timestamp()
