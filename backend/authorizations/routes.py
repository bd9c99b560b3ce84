"""QR authorization: the unit's requests and QR images; the citizen's scan, decision,
consent records and claims; the /q/{token} landing page."""
import io
from urllib.parse import quote

import qrcode
from flask import Blueprint as FlaskBlueprint
from flask import Response, current_app, g, redirect, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from qrcode.image.pure import PyPNGImage
from qrcode.image.svg import SvgPathImage

from backend.authorizations import claims, services
from backend.authorizations.schemas import (
    AccessLogSchema,
    ApprovedSchema,
    ApproveSchema,
    AuthorizationListSchema,
    ClaimListSchema,
    CreatedRequestSchema,
    CreateRequestSchema,
    DeclinedSchema,
    RequestStatusSchema,
    RevokedSchema,
    ScanResultSchema,
    ScanSchema,
)
from backend.common.auth import citizen_required, client_required
from backend.common.errors import ValidationFailed
from backend.common.idempotency import idempotent
from backend.extensions import limiter
from backend.units.guards import unit_of_client

unit_blp = Blueprint("unit_authorizations", __name__, url_prefix="/api/v1/unit/authorization-requests",
                     description="Units: QR authorization requests (授信流转)")
me_blp = Blueprint("citizen_authorizations", __name__, url_prefix="/api/v1/me",
                   description="Citizens: scan, authorize, revoke; claims and access log")
landing_blp = FlaskBlueprint("qr_landing", __name__)


class UnitView(MethodView):
    decorators = [idempotent, client_required("unit")]


@unit_blp.route("")
class Requests(UnitView):
    @unit_blp.arguments(CreateRequestSchema)
    @unit_blp.response(201, CreatedRequestSchema)
    @unit_blp.doc(security=[{"bearer": []}])
    def post(self, data):
        """Create a request; show its QR code (valid 5 minutes, single use) to the citizen."""
        created = services.create_request(unit_of_client(g.client), **data)
        created["qr_png_url"] = url_for("unit_authorizations.QrPng", request_id=created["id"], _external=True)
        created["qr_svg_url"] = url_for("unit_authorizations.QrSvg", request_id=created["id"], _external=True)
        return created


@unit_blp.route("/<request_id>")
class RequestStatus(UnitView):
    @unit_blp.response(200, RequestStatusSchema)
    @unit_blp.doc(security=[{"bearer": []}])
    def get(self, request_id):
        """Poll the outcome: pending, approved (with the receipt keys), declined or expired."""
        return services.request_view_for_unit(unit_of_client(g.client), request_id)


def _qr_image(request_id, factory, mimetype):
    token = services.qr_token_for_unit(unit_of_client(g.client), request_id)
    buffer = io.BytesIO()
    qrcode.make(services.qr_text_for(token), image_factory=factory, box_size=8, border=2).save(buffer)
    response = Response(buffer.getvalue(), mimetype=mimetype)
    response.headers["Cache-Control"] = "no-store"
    return response


@unit_blp.route("/<request_id>/qr.png")
class QrPng(UnitView):
    @unit_blp.doc(security=[{"bearer": []}], responses={"200": {"description": "the QR code as a PNG image", "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}}})
    def get(self, request_id):
        """The request's QR code as a PNG image (show it at the counter)."""
        return _qr_image(request_id, PyPNGImage, "image/png")


@unit_blp.route("/<request_id>/qr.svg")
class QrSvg(UnitView):
    @unit_blp.doc(security=[{"bearer": []}], responses={"200": {"description": "the QR code as an SVG image", "content": {"image/svg+xml": {"schema": {"type": "string"}}}}})
    def get(self, request_id):
        """The request's QR code as an SVG image (scales to any screen)."""
        return _qr_image(request_id, SvgPathImage, "image/svg+xml")


def _scan_limit():
    return current_app.config["SCAN_RATE_LIMIT"]


def _citizen_key():
    return f"citizen:{g.citizen.id}" if g.get("citizen") else request.remote_addr


@me_blp.route("/scans")
class Scans(MethodView):
    decorators = [limiter.limit(_scan_limit, key_func=_citizen_key), citizen_required]

    @me_blp.arguments(ScanSchema)
    @me_blp.alt_response(200, schema=ScanResultSchema, description="the verified request and my eligible receipts", success=True)
    @me_blp.doc(security=[{"bearer": []}])
    def post(self, data):
        """Resolve a scanned QR code: the verified unit, purpose, expiry and my eligible receipts."""
        return services.scan(g.citizen, data["qr_text"])


@me_blp.route("/authorization-requests/<request_id>/approve")
class Approve(MethodView):
    decorators = [citizen_required]

    @me_blp.arguments(ApproveSchema)
    @me_blp.alt_response(200, schema=ApprovedSchema, description="the authorization created", success=True)
    @me_blp.doc(security=[{"bearer": []}])
    def post(self, data, request_id):
        """Authorize exactly these receipts to the requesting unit."""
        if len(set(data["receipt_keys"])) != len(data["receipt_keys"]):
            raise ValidationFailed("receipt_keys must not repeat.", code="duplicate_receipt_keys")
        return services.approve(g.citizen, request_id, data["receipt_keys"])


@me_blp.route("/authorization-requests/<request_id>/decline")
class Decline(MethodView):
    decorators = [citizen_required]

    @me_blp.alt_response(200, schema=DeclinedSchema, success=True)
    @me_blp.doc(security=[{"bearer": []}])
    def post(self, request_id):
        """Decline: the unit learns it through its own channel; the QR is spent."""
        return services.decline(g.citizen, request_id)


@me_blp.route("/authorizations")
class Authorizations(MethodView):
    decorators = [citizen_required]

    @me_blp.alt_response(200, schema=AuthorizationListSchema, success=True)
    @me_blp.doc(security=[{"bearer": []}])
    def get(self):
        """My consent records: which unit, which receipts, what purpose, when, and withdrawals."""
        return services.list_authorizations(g.citizen)


@me_blp.route("/authorizations/<authorization_id>")
class Authorization(MethodView):
    decorators = [citizen_required]

    @me_blp.alt_response(200, schema=RevokedSchema, description="what was revoked and what stays with the unit (locked)", success=True)
    @me_blp.doc(security=[{"bearer": []}])
    def delete(self, authorization_id):
        """Revoke, for every receipt the unit has not locked."""
        return services.revoke(g.citizen, authorization_id)


@me_blp.route("/claims")
class Claims(MethodView):
    decorators = [citizen_required]

    @me_blp.alt_response(200, schema=ClaimListSchema, success=True)
    @me_blp.doc(security=[{"bearer": []}])
    def get(self):
        """Per unit and receipt: 已授权 → 报销中 → 已报销 (amount) / 被拒 (reason), with times."""
        return claims.list_claims(g.citizen)


@me_blp.route("/receipts/<key>/access-log")
class AccessLog(MethodView):
    decorators = [citizen_required]

    @me_blp.alt_response(200, schema=AccessLogSchema, success=True)
    @me_blp.doc(security=[{"bearer": []}])
    def get(self, key):
        """Who read this receipt of mine, when, and what for."""
        return claims.access_log(g.citizen, key)


@landing_blp.get("/q/<token>")
def qr_landing(token):
    """Opened by a plain camera app: hands the QR text to the mini-app's confirmation screen
    (in the fragment, which never reaches a server log); shows nothing about the unit."""
    target = f"/app/#/scan?qr={quote(services.qr_text_for(token), safe='')}" if services._TOKEN.fullmatch(token) else "/app/"
    response = redirect(target, code=303)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
