"""Citizens: login with 海易办, their profile and their wallet."""
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.citizens import identity, services, wallet
from backend.citizens.schemas import AssertionSchema, LogoutSchema, ProfileSchema, RefreshSchema, SessionListSchema, StreamTicketSchema, TokenPairSchema, WalletArgsSchema
from backend.common import attempts
from backend.receipts.schemas import ReceiptAnswerSchema, ReceiptPageSchema
from backend.common.auth import citizen_required
from backend.common.errors import Unauthorized
from backend.common.openapi import problem_response

auth_blp = Blueprint("citizen_auth", __name__, url_prefix="/api/v1/auth", description="Citizens: sign in with a 海易办 identity assertion")
me_blp = Blueprint("citizen_wallet", __name__, url_prefix="/api/v1/me", description="Citizens: personal digital account (个人数字账户)")



@auth_blp.route("/citizen")
class CitizenLogin(MethodView):
    @auth_blp.arguments(AssertionSchema)
    @auth_blp.response(200, TokenPairSchema)
    @problem_response(auth_blp, 401, "assertion refused: invalid_assertion, assertion_expired, wrong_audience, wrong_issuer, unknown_key, algorithm_not_allowed, missing_claim")
    @problem_response(auth_blp, 429, "too_many_attempts: this address sent too many refused assertions (a valid one still signs in)")
    def post(self, data):
        """Sign in (opens the personal digital account at first sign-in)."""
        address = attempts.client_address()
        limit = ("assertion", "ASSERTION_FAILURES_PER_ADDRESS", "address", address)
        # Over its failure limit, an address still signs in with a valid assertion (a signature
        # cannot be guessed); what is not even plausible is refused before any signature check.
        over_limit = not attempts.allowed(*limit)
        if over_limit and not identity.plausible(data["assertion"]):
            attempts.refuse(*limit)
        try:
            return services.login(data["assertion"])
        except Unauthorized:
            attempts.record_failure(*limit)
            if over_limit:
                attempts.refuse(*limit)
            raise


@auth_blp.route("/refresh")
class Refresh(MethodView):
    @auth_blp.arguments(RefreshSchema)
    @auth_blp.response(200, TokenPairSchema)
    def post(self, data):
        """Rotate: spend the refresh token, get a new pair."""
        return services.refresh(data["refresh_token"])


@auth_blp.route("/logout")
class Logout(MethodView):
    @auth_blp.arguments(LogoutSchema)
    @auth_blp.response(204)
    def post(self, data):
        """Sign out this session (with `everywhere`: every session and chat binding)."""
        services.logout(data["refresh_token"], everywhere=data["everywhere"])


@me_blp.route("/stream-tickets")
class StreamTickets(MethodView):
    decorators = [citizen_required]

    @me_blp.response(201, StreamTicketSchema)
    @me_blp.doc(security=[{"bearer": []}])
    def post(self):
        """A single-use ticket (60 s) that opens the live stream, `GET /me/stream?ticket=…`,
        for browsers whose EventSource cannot send an Authorization header."""
        return services.issue_stream_ticket(g.citizen, g.get("citizen_session_id"))


@me_blp.route("/sessions")
class Sessions(MethodView):
    decorators = [citizen_required]

    @me_blp.alt_response(200, schema=SessionListSchema, success=True)
    @me_blp.doc(security=[{"bearer": []}])
    def get(self):
        """Where I am signed in: sign-ins of the mini-app and chat bindings, the current one marked."""
        return services.sessions_of(g.citizen, g.get("citizen_session_id"))


@me_blp.route("/sessions/<session_id>")
class Session(MethodView):
    decorators = [citizen_required]

    @me_blp.response(204)
    @me_blp.doc(security=[{"bearer": []}])
    def delete(self, session_id):
        """Sign one session out; its access tokens end at once (a chat binding's: the binding ends)."""
        services.end_session(g.citizen, session_id)


@me_blp.route("")
class Me(MethodView):
    decorators = [citizen_required]

    @me_blp.response(200, ProfileSchema)
    @me_blp.doc(security=[{"bearer": []}])
    def get(self):
        """My account: name, ID (unmasked for me, and masked for display), phone, sign-in times."""
        return services.profile(g.citizen)


@me_blp.route("/receipts")
class Receipts(MethodView):
    decorators = [citizen_required]

    @me_blp.arguments(WalletArgsSchema, location="query")
    @me_blp.alt_response(200, schema=ReceiptPageSchema, description="newest first; payer.id_number unmasked (my own)", success=True)
    @me_blp.doc(security=[{"bearer": []}])
    def get(self, args):
        """Every receipt issued to me, in any province, with live status."""
        return wallet.list_receipts(g.citizen, **args)


@me_blp.route("/receipts/<key>")
class ReceiptDetail(MethodView):
    decorators = [citizen_required]

    @me_blp.alt_response(200, schema=ReceiptAnswerSchema, description="every element, status, timeline and ledger", success=True)
    @me_blp.doc(security=[{"bearer": []}])
    def get(self, key):
        """One receipt: every element, display status, timeline and ledger."""
        return wallet.get_receipt(g.citizen, key)


PDF_ANSWER = {"200": {"description": "the signed layout file", "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}
DATA_FILE_ANSWER = {"200": {"description": "the national data file (DESIGN §11), complete: the issuer's and the finance department's signatures",
                            "content": {"application/xml": {"schema": {"type": "string"}}}}}


def data_file_response(key: str, xml: bytes):
    from flask import Response

    return Response(xml, mimetype="application/xml", headers={"Content-Disposition": f'attachment; filename="{key}.xml"',
                                                             "Cache-Control": "no-store"})


@me_blp.route("/receipts/<key>/data-file")
class MyDataFile(MethodView):
    decorators = [citizen_required]

    @me_blp.doc(security=[{"bearer": []}], responses=DATA_FILE_ANSWER)
    @problem_response(me_blp, 404, "receipt_not_found; data_file_at_issuing_node (a receipt of another province)")
    def get(self, key):
        """My receipt's national data file (数据文件): the legal original as the issuer sealed it, with the finance seal."""
        from backend.receipts.data_files import file_of

        wallet.get_receipt(g.citizen, key)  # mine, and the read is as any other
        return data_file_response(key, file_of(key))


@me_blp.route("/receipts/<key>/layout.pdf")
class MyLayoutFile(MethodView):
    decorators = [citizen_required]

    @me_blp.doc(security=[{"bearer": []}], responses=PDF_ANSWER)
    def get(self, key):
        """My receipt's layout file (版式文件): the national layout, signed by this node (PAdES)."""
        from flask import Response

        from backend.verification.layout import signed_layout

        pdf = signed_layout(wallet.get_receipt(g.citizen, key))
        return Response(pdf, mimetype="application/pdf", headers={"Content-Disposition": f'attachment; filename="{key}.pdf"',
                                                                   "Cache-Control": "no-store"})
