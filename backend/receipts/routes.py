"""Issuer webhook endpoint and the platform's public signing keys."""
from flask import jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.common.errors import PayloadTooLarge
from backend.receipts import webhooks
from backend.receipts.schemas import JwksSchema, ReceiptWireSchema, WebhookAcceptedSchema
from backend.receipts.signing import platform_signer
from backend.common.openapi import problem_response

blp = Blueprint("issuer_webhooks", __name__, url_prefix="/api/v1", description="Issuers (hospital systems) push receipts by signed webhook")

WEBHOOK_HEADERS = [
    {"in": "header", "name": name, "required": True, "schema": {"type": "string"}, "description": desc}
    for name, desc in (
        ("webhook-id", "unique message id; a retry reuses it"),
        ("webhook-timestamp", "Unix seconds; ±5 minutes"),
        ("webhook-signature", "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`; several, space-separated, during rotation"),
    )
]


@blp.route("/issuers/<issuer_id>/webhook")
class IssuerWebhook(MethodView):
    @blp.doc(
        parameters=WEBHOOK_HEADERS,
        requestBody={"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["type", "data"], "additionalProperties": False,
            "properties": {
                "type": {"type": "string", "enum": ["receipt.issued", "receipt.red_reversed", "receipt.paper_exchanged", "receipt.voided",
                                                    "receipt.batch"]},
                "data": {"oneOf": [{"$ref": "#/components/schemas/ReceiptWire"}, {"type": "object"},
                                   {"type": "object", "description": "receipt.batch: {receipts: [ReceiptWire, …]} — 1 to 500, each sealed; "
                                    "answered item by item (202 {applied, unchanged, refused, results: [{index, key, result, code, title}]})",
                                    "required": ["receipts"], "properties": {"receipts": {"type": "array", "minItems": 1, "maxItems": 500,
                                                                                          "items": {"$ref": "#/components/schemas/ReceiptWire"}}}}]},
            },
        }}}},
    )
    @blp.response(202, WebhookAcceptedSchema)
    @problem_response(blp, 401, "Signature headers missing, stale or wrong")
    @problem_response(blp, 409, "Replayed webhook-id with another body, conflicting content, or receipt locked")
    @problem_response(blp, 422, "The receipt fails validation")
    def post(self, issuer_id):
        """Receive one issuer event (Standard Webhooks signed), or a `receipt.batch` of up to 500
        issued receipts (a backfill), accepted or refused item by item."""
        limit = request.max_content_length
        if request.content_length is not None and limit is not None and request.content_length > limit:
            raise PayloadTooLarge("The delivery is too large.")
        result = webhooks.handle_delivery(issuer_id, request.headers, request.get_data(cache=False))
        return result.body, result.status


@blp.route("/platform/jwks.json")
class PlatformKeys(MethodView):
    @blp.alt_response(200, schema=JwksSchema, success=True)
    def get(self):
        """The node's supervision-signature public keys (JWKS), to verify `supervision_signature`."""
        return jsonify({"keys": [platform_signer().public_jwk]})


def register_schemas(api):
    api.spec.components.schema("ReceiptWire", schema=ReceiptWireSchema)


@blp.route("/platform/layout-cert.pem")
class LayoutCertificate(MethodView):
    @blp.doc(responses={"200": {"description": "PEM certificate", "content": {"application/x-pem-file": {"schema": {"type": "string"}}}}})
    def get(self):
        """The certificate this node signs layout files with (to check them with any PDF tool)."""
        from flask import Response

        from backend.verification.layout import signer

        return Response(signer().cert_pem, mimetype="application/x-pem-file")
