from marshmallow import RAISE, Schema, fields, validate

from backend.citizens.wallet import STATUSES
from backend.common.validators import FullMatch, IsoDate, Timestamp
from backend.receipts.schemas import ID_NUMBER, ID_TYPES


class Strict(Schema):
    class Meta:
        unknown = RAISE


def _column_length(name: str) -> int:
    from backend.citizens.models import Citizen

    return Citizen.__table__.c[name].type.length


class IdentityClaimsSchema(Schema):
    """The identity claims of a 海易办 assertion, checked against what the account stores
    (the column lengths are the one source of the limits)."""

    class Meta:
        unknown = RAISE

    sub = fields.String(required=True, validate=validate.Length(min=1, max=_column_length("sub")))
    jti = fields.String(required=True, validate=validate.Length(min=8, max=128))
    name = fields.String(required=True, validate=[validate.Length(min=1, max=_column_length("name")),
                                                  validate.Regexp(r"\S", error="must not be blank")])
    id_type = fields.String(required=True, validate=[validate.OneOf(ID_TYPES), validate.Length(max=_column_length("id_type"))])
    id_number = fields.String(required=True, validate=ID_NUMBER)
    phone = fields.String(allow_none=True, validate=FullMatch(r"^\+?[0-9][0-9 \-]{4,19}$", error="must be a phone number"))


class AssertionSchema(Strict):
    assertion = fields.String(required=True, validate=validate.Length(min=1, max=8192),
                              metadata={"description": "the identity JWT 海易办 handed the mini-app"})


class LogoutSchema(Strict):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=200))
    everywhere = fields.Boolean(load_default=False, metadata={
        "description": "also every other sign-in of mine and every chat binding (their tokens end at once)"})


class RefreshSchema(Strict):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=200))


class TokenPairSchema(Schema):
    access_token = fields.String()
    refresh_token = fields.String(metadata={"description": "single use; reusing a spent one signs out every session of this login"})
    token_type = fields.String()
    expires_in = fields.Integer()
    scope = fields.String(allow_none=True, metadata={"description": "`chat` for a chat binding's delegated token"})


class ProfileSchema(Schema):
    id = fields.String()
    name = fields.String()
    id_type = fields.String()
    id_number = fields.String(metadata={"description": "unmasked: this answer goes only to its owner"})
    id_number_masked = fields.String()
    phone = fields.String(allow_none=True)
    created_at = Timestamp()
    last_login_at = Timestamp()


class WalletArgsSchema(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES), metadata={
        "description": "issued (正常) | authorized (已授权) | locked (报销中) | partial (部分报销) | reimbursed (已报销) | red_reversed | paper_exchanged | voided"})
    province = fields.String(validate=FullMatch(r"^[0-9]{2}$"))
    issuer = fields.String(validate=validate.Length(max=64), metadata={"description": "issuer id or credit code"})
    date_from = IsoDate()
    date_to = IsoDate()
    q = fields.String(validate=validate.Length(min=1, max=50), metadata={"description": "text anywhere in the receipt (issuer, items, number…)"})
    cursor = fields.String(validate=validate.Length(max=200))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class DemoAssertionRequestSchema(Strict):
    citizen = fields.String(required=True, metadata={"example": "zhangsan"})


class StreamTicketSchema(Schema):
    ticket = fields.String(metadata={"description": "single use; GET /api/v1/me/stream?ticket=…"})
    expires_at = Timestamp()


class DemoCitizenSchema(Schema):
    handle = fields.String(metadata={"example": "zhangsan"})
    name = fields.String(metadata={"example": "张三"})


class DemoCitizenListSchema(Schema):
    items = fields.List(fields.Nested(DemoCitizenSchema))


class DemoAssertionSchema(Schema):
    assertion = fields.String(metadata={"description": "an identity JWT for POST /api/v1/auth/citizen"})


class SessionSchema(Schema):
    id = fields.String(metadata={"description": "the session (a sign-in, or a chat binding)"})
    kind = fields.String(metadata={"description": "app | chat"})
    started_at = Timestamp()
    last_active_at = Timestamp(metadata={"description": "its last refresh"})
    current = fields.Boolean(metadata={"description": "the session asking"})


class SessionListSchema(Schema):
    items = fields.List(fields.Nested(SessionSchema))
