"""Chat binding: the citizen asks for a code (mini-app), the bot redeems it (its client
token), either side unbinds."""
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.chat import services
from backend.chat.schemas import BindingCodeSchema, BoundSchema, GrantSchema, QuotaSchema, RedeemSchema
from backend.common.auth import citizen_required, client_required
from backend.common.openapi import problem_response
from backend.chat.models import ChatBinding

me_blp = Blueprint("chat_binding_codes", __name__, url_prefix="/api/v1/me", description="Citizens: bind a chat account")
bot_blp = Blueprint("chat_bot", __name__, url_prefix="/api/v1/chat", description="The chat bot: redeem binding codes, unbind, push quota")


@me_blp.route("/chat-binding-codes")
class BindingCodes(MethodView):
    decorators = [citizen_required]

    @me_blp.response(201, BindingCodeSchema)
    @problem_response(me_blp, 429, "too many codes asked for")
    @me_blp.doc(security=[{"bearer": []}])
    def post(self):
        """A one-time code to send to the bot (5 minutes, single use); earlier unused codes stop working."""
        return services.issue_code(g.citizen)


@me_blp.route("/chat-bindings/<binding_id>")
class MyBinding(MethodView):
    decorators = [citizen_required]

    @me_blp.response(204)
    @me_blp.doc(security=[{"bearer": []}])
    def delete(self, binding_id):
        """Unbind a chat account: no more pushes, and its delegated token ends at once."""
        from backend.common.errors import NotFound
        from backend.extensions import db

        binding = db.session.get(ChatBinding, binding_id)
        if binding is None or binding.citizen_id != g.citizen.id:
            raise NotFound("No such chat binding.", code="chat_binding_not_found", title="未找到该绑定")
        services.unbind(binding)


@bot_blp.route("/bindings")
class Bindings(MethodView):
    decorators = [client_required("bot")]

    @bot_blp.arguments(RedeemSchema)
    @bot_blp.response(201, BoundSchema)
    @problem_response(bot_blp, 400, "invalid_binding_code: unknown, used or expired")
    @problem_response(bot_blp, 409, "chat_account_taken: bound to another person; chat_account_bound_elsewhere: bound through another bot")
    @problem_response(bot_blp, 429, "too many wrong codes from this chat account or bot")
    @bot_blp.doc(security=[{"bearer": []}])
    def post(self, data):
        """Redeem a binding code a chat user sent: a delegated, scope-limited token for that citizen."""
        return services.redeem(g.client, data["code"], data["channel"], data["external_id"])


@bot_blp.route("/bindings/<binding_id>")
class Binding(MethodView):
    decorators = [client_required("bot")]

    @bot_blp.response(204)
    @problem_response(bot_blp, 404, "chat_binding_not_found: no such binding, or another bot made it")
    @bot_blp.doc(security=[{"bearer": []}])
    def delete(self, binding_id):
        """The chat user unbound (or unsubscribed): the binding and its token end. Only the bot that made it."""
        services.unbind_by_bot(g.client, binding_id)


@bot_blp.route("/bindings/<binding_id>/subscriptions")
class Subscriptions(MethodView):
    decorators = [client_required("bot")]

    @bot_blp.arguments(GrantSchema)
    @bot_blp.response(200, QuotaSchema)
    @problem_response(bot_blp, 404, "chat_binding_not_found: no such binding, or another bot made it")
    @problem_response(bot_blp, 409, "binding_ended")
    @bot_blp.doc(security=[{"bearer": []}])
    def post(self, data, binding_id):
        """The user agreed to N more subscription messages (WeChat one-time subscriptions). Only the bot that made the binding."""
        return services.grant_by_bot(g.client, binding_id, data["messages"])
