"""Fiscal operators' API: issuers (and, with the units issue, units)."""
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.admin.schemas import (
    CodeSeriesSchema,
    CredentialsSchema,
    IssuerCreatedSchema,
    IssuerCreateSchema,
    IssuerKeyCreateSchema,
    IssuerKeySchema,
    IssuerSchema,
    JobsOverviewSchema,
    StatsSchema,
    ProofLockoutListSchema,
    UnitCreatedSchema,
    UnitCreateSchema,
    UnitSchema,
    UnitStatusChangeSchema,
    WebhookSecretSchema,
)
from backend.common.auth import client_required
from backend.issuers import services as issuers
from backend.units import services as units

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
        """One registered issuer (hospital)."""
        return issuers.get_issuer(issuer_id)


def _key_view(key):
    return {"id": key.id, "alg": key.alg, "fingerprint": key.fingerprint, "public_key_pem": key.public_key_pem,
            "created_at": key.created_at, "expires_at": key.expires_at,
            "valid": key in issuers.valid_public_keys(key.issuer)}


@blp.route("/issuers/<issuer_id>/keys")
class IssuerKeys(MethodView):
    decorators = [client_required("operator")]

    @blp.response(200, IssuerKeySchema(many=True))
    @blp.doc(security=[{"bearer": []}])
    def get(self, issuer_id):
        """The issuer's seal keys, newest first, with their validity."""
        return [_key_view(k) for k in issuers.get_issuer(issuer_id).keys]

    @blp.arguments(IssuerKeyCreateSchema)
    @blp.response(201, IssuerKeySchema)
    @blp.doc(security=[{"bearer": []}])
    def post(self, data, issuer_id):
        """Register the issuer's new seal key; the previous ones keep verifying for `overlap_hours` (default 72)."""
        return _key_view(issuers.add_public_key(issuer_id, data["public_key_pem"], data["alg"], data["overlap_hours"]))


@blp.route("/issuers/<issuer_id>/keys/<key_id>/retire")
class RetireIssuerKey(MethodView):
    decorators = [client_required("operator")]

    @blp.response(200, IssuerKeySchema)
    @blp.doc(security=[{"bearer": []}])
    def post(self, issuer_id, key_id):
        """End a seal key at once (e.g. compromised); receipts accepted before keep their verification."""
        return _key_view(issuers.retire_public_key(issuer_id, key_id))


@blp.route("/issuers/<issuer_id>/code-series")
class CodeSeriesOfIssuer(MethodView):
    decorators = [client_required("operator")]

    @blp.response(200, CodeSeriesSchema(many=True))
    @blp.doc(security=[{"bearer": []}])
    def get(self, issuer_id):
        """The receipt code series allocated to the issuer."""
        return issuers.code_series_of(issuer_id)

    @blp.arguments(CodeSeriesSchema)
    @blp.response(201, CodeSeriesSchema)
    @blp.doc(security=[{"bearer": []}])
    def post(self, data, issuer_id):
        """Allocate a code series (票据代码段): from then on the issuer's receipts must fall in its series, and no other issuer may use it."""
        return issuers.allocate_code_series(issuer_id, data["code"], data["number_from"], data["number_to"])


@blp.route("/issuers/<issuer_id>/code-series/<series_id>")
class CodeSeriesItem(MethodView):
    decorators = [client_required("operator")]

    @blp.response(204)
    @blp.doc(security=[{"bearer": []}])
    def delete(self, issuer_id, series_id):
        """Withdraw an allocation; receipts already accepted in it stay valid, and the range may be allocated again."""
        issuers.withdraw_code_series(issuer_id, series_id)


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
        """Disable an issuer: its deliveries are refused until it is enabled again."""
        return issuers.set_status(issuer_id, "disabled")


@blp.route("/issuers/<issuer_id>/enable")
class EnableIssuer(MethodView):
    decorators = [client_required("operator")]

    @blp.response(200, IssuerSchema)
    @blp.doc(security=[{"bearer": []}])
    def post(self, issuer_id):
        """Enable a disabled issuer again."""
        return issuers.set_status(issuer_id, "active")


@blp.route("/units")
class Units(MethodView):
    decorators = [client_required("operator")]

    @blp.arguments(UnitCreateSchema)
    @blp.response(201, UnitCreatedSchema)
    @blp.doc(security=[{"bearer": []}])
    def post(self, data):
        """Open a unit account (开通); the answer carries its client credentials, shown once."""
        unit, client, secret = units.open_unit(**data)
        unit.client_id, unit.client_secret = client.client_id, secret
        return unit


@blp.route("/units/<unit_id>")
class UnitDetail(MethodView):
    decorators = [client_required("operator")]

    @blp.response(200, UnitSchema)
    @blp.doc(security=[{"bearer": []}])
    def get(self, unit_id):
        """One unit account and its status."""
        return units.get_unit(unit_id)


def _status_route(action, doc):
    @client_required("operator")
    @blp.arguments(UnitStatusChangeSchema, required=False)
    @blp.response(200, UnitSchema)
    @blp.doc(security=[{"bearer": []}], summary=doc)
    def view(data, unit_id):
        reason = (data or {}).get("reason")
        if action == "cancel":
            return units.cancel(unit_id, g.client, reason)
        return getattr(units, action)(unit_id, reason)

    view.__name__ = f"unit_{action}"
    blp.route(f"/units/<unit_id>/{action}", methods=["POST"])(view)


_status_route("freeze", "Freeze (冻结): the unit starts nothing new")
_status_route("unfreeze", "Unfreeze (解冻)")
_status_route("cancel", "Cancel (注销): locks released, authorizations revoked")


@blp.route("/units/<unit_id>/credentials/rotate")
class RotateUnitCredentials(MethodView):
    decorators = [client_required("operator")]

    @blp.response(201, CredentialsSchema)
    @blp.doc(security=[{"bearer": []}])
    def post(self, unit_id):
        """New client secret for the unit (the old one stops working at once)."""
        client, secret = units.rotate_credentials(unit_id)
        return {"client_id": client.client_id, "client_secret": secret}


@blp.route("/jobs")
class Jobs(MethodView):
    decorators = [client_required("operator")]

    @blp.alt_response(200, schema=JobsOverviewSchema, success=True)
    @blp.doc(security=[{"bearer": []}])
    def get(self):
        """Background work: failed RQ jobs, dead webhook deliveries, undispatched events, queue lengths."""
        from backend.admin.jobs import overview

        return overview()


@blp.route("/stats")
class Stats(MethodView):
    decorators = [client_required("operator")]

    @blp.alt_response(200, schema=StatsSchema, success=True)
    @blp.doc(security=[{"bearer": []}])
    def get(self):
        """Receipts by lifecycle, amounts issued and reimbursed, open locks, feedback, units and issuers by status."""
        from backend.admin.stats import overview

        return overview()


@blp.route("/proof-lockouts")
class ProofLockouts(MethodView):
    decorators = [client_required("operator")]

    @blp.response(200, ProofLockoutListSchema)
    @blp.doc(security=[{"bearer": []}])
    def get(self):
        """Receipts closed to proof of possession after repeated wrong check codes, until when."""
        from backend.reimbursements import proof

        return proof.open_lockouts()


@blp.route("/proof-lockouts/<key>")
class ProofLockout(MethodView):
    decorators = [client_required("operator")]

    @blp.response(204)
    @blp.doc(security=[{"bearer": []}])
    def delete(self, key):
        """Lift a receipt's lockout (e.g. once the holder has been identified at a counter)."""
        from backend.reimbursements import proof

        proof.lift(key)
