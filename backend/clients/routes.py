"""OAuth 2.0 token endpoint (client credentials, RFC 6749 §4.4)."""
from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from backend.clients import services
from backend.common import attempts
from backend.common.errors import DomainError

blp = Blueprint("oauth", __name__, url_prefix="/api/v1/oauth", description="OAuth 2.0 client credentials for operators, units and issuers")


class TokenRequestSchema(Schema):
    grant_type = fields.String(required=True, metadata={"example": "client_credentials"})
    client_id = fields.String()
    client_secret = fields.String()


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)


class InvalidRequest(DomainError):
    status = 400
    code = "invalid_request"
    title = "请求参数有误"


class UnsupportedGrant(DomainError):
    status = 400
    code = "unsupported_grant_type"
    title = "不支持的授权类型"


@blp.route("/token")
class Token(MethodView):
    @blp.doc(requestBody={"content": {
        "application/x-www-form-urlencoded": {"schema": TokenRequestSchema},
        "application/json": {"schema": TokenRequestSchema},
    }})
    @blp.response(200, TokenSchema)
    def post(self):
        """Exchange client credentials (form body or HTTP Basic) for a Bearer token."""
        data = request.form if request.form else (request.get_json(silent=True) or {})
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise InvalidRequest("Every token request parameter is a string.", extra={"error": "invalid_request"})
        if data.get("grant_type") != "client_credentials":
            raise UnsupportedGrant("grant_type must be client_credentials.", extra={"error": "unsupported_grant_type"})
        client_id, client_secret = data.get("client_id"), data.get("client_secret")
        if request.authorization and request.authorization.type == "basic":
            client_id = request.authorization.username
            client_secret = request.authorization.password
        address = attempts.client_address()
        try:
            attempts.ensure_allowed("token", "TOKEN_FAILURES_PER_ADDRESS", "address", address)
            attempts.ensure_allowed("token", "TOKEN_FAILURES_PER_CLIENT", "client", str(client_id))
            try:
                return services.issue_token(client_id, client_secret)
            except DomainError:
                attempts.record_failure("token", "TOKEN_FAILURES_PER_ADDRESS", "address", address)
                attempts.record_failure("token", "TOKEN_FAILURES_PER_CLIENT", "client", str(client_id))
                raise
        except DomainError as exc:
            exc.extra.setdefault("error", exc.code)
            raise
