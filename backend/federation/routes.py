"""Federation endpoints (DESIGN §6, contract): every node's and the hub's JWKS and message
inbox; the hub's directory. Messages are compact JWS, content type application/jose."""
import logging

from flask import Response, current_app, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.common.auth import client_required
from backend.common.errors import DomainError, NotFound, ValidationFailed
from backend.common.openapi import problem_response
from backend.federation import directory, is_hub, keys, messages, receiving, transport
from backend.federation.schemas import (DirectorySchema, FederationStatsSchema, JwksSchema, SubscriptionPageSchema,
                                        SubscriptionQuerySchema)

log = logging.getLogger(__name__)
blp = Blueprint("federation", __name__, url_prefix="/api/v1/federation", description="Federation: provincial nodes and the national hub")
admin_blp = Blueprint("federation_admin", __name__, url_prefix="/api/v1/admin/federation", description="Hub operators: directory and statistics")


@blp.route("/jwks.json")
class Jwks(MethodView):
    @blp.alt_response(200, schema=JwksSchema, success=True)
    def get(self):
        """This node's (or the hub's) federation signing keys; during a rotation, old and new."""
        return jsonify(keys.jwks())


@blp.route("/directory")
class Directory(MethodView):
    @blp.alt_response(200, schema=DirectorySchema, success=True)
    @problem_response(blp, 404, "not a hub")
    def get(self):
        """Hub: every node (province, URL, keys and their validity) and the hub's own keys."""
        if not is_hub(current_app):
            raise NotFound("Only the hub publishes the directory.", code="not_a_hub")
        return jsonify(directory.listing())


@blp.route("/messages")
class Messages(MethodView):
    @blp.doc(requestBody={"required": True, "content": {"application/jose": {"schema": {"type": "string", "description": "compact JWS"}}}},
             responses={"200": {"description": "the signed answer (compact JWS): body {in_reply_to, status, result | problem}",
                                "content": {"application/jose": {"schema": {"type": "string"}}}}})
    @problem_response(blp, 401, "signature, key, audience or lifetime refused")
    @problem_response(blp, 409, "message id replayed with other content")
    @problem_response(blp, 503, "issuing_node_unavailable: the hub could not reach the audience")
    def post(self):
        """Receive a federation message (a node from the hub, the hub from a node)."""
        if request.mimetype != transport.CONTENT_TYPE:
            raise DomainError("Messages are application/jose.", code="unsupported_media_type", status=415)
        token = request.get_data(as_text=True)
        if is_hub(current_app):
            _, claims = messages.peek(token)
            aud = claims.get("aud")
            if aud != "hub":
                return _route(token, aud)
        return Response(receiving.receive(token), mimetype=transport.CONTENT_TYPE)


def _route(token: str, aud):
    from backend.federation import hub

    if not isinstance(aud, str) or not (len(aud) == 2 and aud.isdigit()):
        raise ValidationFailed("The audience is `hub` or a province.", code="wrong_audience")
    try:
        messages.open_(token, directory.hub_key_lookup, audience=aud)  # the sender is who it claims to be
    except messages.MessageRefused as exc:
        log.warning("federation message refused at the hub", extra={"code": exc.code, "aud": aud})
        raise
    answer = hub.forward(token, aud)
    return Response(answer.content, status=answer.status_code, mimetype=answer.headers.get("content-type", "application/json"))


@admin_blp.route("/nodes")
class Nodes(MethodView):
    decorators = [client_required("operator")]

    @admin_blp.alt_response(200, schema=DirectorySchema, success=True)
    @admin_blp.doc(security=[{"bearer": []}])
    def get(self):
        """Hub operators: the directory (same as `flask --app wsgi federation nodes`)."""
        if not is_hub(current_app):
            raise NotFound("Only the hub keeps a directory.", code="not_a_hub")
        return jsonify(directory.listing())


@admin_blp.route("/stats")
class Stats(MethodView):
    decorators = [client_required("operator")]

    @admin_blp.alt_response(200, schema=FederationStatsSchema, success=True)
    @admin_blp.doc(security=[{"bearer": []}])
    def get(self):
        """Nodes, payers indexed (keyed hashes only), messages received by type."""
        from backend.federation.hub import stats

        return stats()


@admin_blp.route("/subscriptions")
class Subscriptions(MethodView):
    decorators = [client_required("operator")]

    @admin_blp.arguments(SubscriptionQuerySchema, location="query")
    @admin_blp.response(200, SubscriptionPageSchema)
    @problem_response(admin_blp, 404, "not a hub")
    @admin_blp.doc(security=[{"bearer": []}])
    def get(self, args):
        """Hub operators: which node subscribed for which payer hash, on which stated sign-in
        (newest first) — the audit of who asked for whose receipts."""
        from backend.federation.hub import subscriptions

        if not is_hub(current_app):
            raise NotFound("Only the hub keeps subscriptions.", code="not_a_hub")
        return subscriptions(**args)
