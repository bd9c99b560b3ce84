from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields

from backend.common.validators import FullMatch, IsoDate
from backend.extensions import limiter
from backend.verification import services
from backend.common.openapi import problem_response

blp = Blueprint("verify", __name__, url_prefix="/api/v1/verify", description="Anyone: check a receipt's authenticity and status")


class VerifyRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    code = fields.String(required=True, validate=FullMatch(r"^[0-9]{8}$"))
    number = fields.String(required=True, validate=FullMatch(r"^[0-9]{10}$"))
    check_code = fields.String(required=True, validate=FullMatch(r"^[A-Za-z0-9]{6}$"))
    issue_date = IsoDate(required=True)
    total_amount = fields.String(required=True, validate=FullMatch(r"^[0-9]{1,13}\.[0-9]{2}$"))


class VerifyResultSchema(Schema):
    authentic = fields.Boolean(required=True)
    key = fields.String()
    lifecycle = fields.String()
    display_status = fields.String()
    reimbursement = fields.String()
    remaining_amount = fields.String()
    issuer = fields.Dict()
    issue_date = fields.String()
    total_amount = fields.String()
    title = fields.String()


def _limit():
    return current_app.config["VERIFY_RATE_LIMIT"]


@blp.route("")
class Verify(MethodView):
    decorators = [limiter.limit(_limit)]

    @blp.arguments(VerifyRequestSchema)
    @blp.response(200, VerifyResultSchema)
    @problem_response(blp, 429, "rate limited per client")
    def post(self, data):
        """Authentic or not, and the display status; nothing personal."""
        return services.verify(**data)
