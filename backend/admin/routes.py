"""Fiscal operators' API: issuers (and, with the units issue, units)."""
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.admin.schemas import IssuerCreatedSchema, IssuerCreateSchema, IssuerSchema, WebhookSecretSchema
from backend.common.auth import client_required
from backend.issuers import services as issuers

blp = Blueprint("admin", __name__, url_prefix="/api/v1/admin", description="Fiscal operators (财政部门)")


@blp.route("/issuers")
class Issuers(MethodView):
    decorators = [client_required("operator")]

    @blp.arguments(IssuerCreateSchema)
    @blp.response(201, IssuerCreatedSchema)
    @blp.doc(security=[{"bearer": []}])
    def post(self, data):
        """Register an issuer; the answer carries its webhook secret, shown only once."""
        issuer, secret = issuers.register_issuer(**data)
        issuer.webhook_secret = secret  # transient, dumped once
        return issuer


@blp.route("/issuers/<issuer_id>")
class IssuerDetail(MethodView):
    decorators = [client_required("operator")]

    @blp.response(200, IssuerSchema)
    @blp.doc(security=[{"bearer": []}])
    def get(self, issuer_id):
        return issuers.get_issuer(issuer_id)


@blp.route("/issuers/<issuer_id>/webhook-secret/rotate")
class RotateSecret(MethodView):
    decorators = [client_required("operator")]

    @blp.response(201, WebhookSecretSchema)
    @blp.doc(security=[{"bearer": []}])
    def post(self, issuer_id):
        """New `whsec_` secret; the old one stays valid for 24 hours."""
        return {"webhook_secret": issuers.rotate_webhook_secret(issuer_id)}


@blp.route("/issuers/<issuer_id>/disable")
class DisableIssuer(MethodView):
    decorators = [client_required("operator")]

    @blp.response(200, IssuerSchema)
    @blp.doc(security=[{"bearer": []}])
    def post(self, issuer_id):
        return issuers.set_status(issuer_id, "disabled")


@blp.route("/issuers/<issuer_id>/enable")
class EnableIssuer(MethodView):
    decorators = [client_required("operator")]

    @blp.response(200, IssuerSchema)
    @blp.doc(security=[{"bearer": []}])
    def post(self, issuer_id):
        return issuers.set_status(issuer_id, "active")
