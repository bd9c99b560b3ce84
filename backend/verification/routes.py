from flask import Blueprint as FlaskBlueprint
from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields

from backend.common.auth import authenticate_citizen, bearer_token
from backend.common.validators import FullMatch, IsoDate, Timestamp
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


CHECK_COUNT = ("查验次数: how often the receipt has been checked by anyone (elements, layout or data file, the printed "
               "QR's page, units), this check included; only authentic checks count. Null if it could not be recorded")
LAST_CHECKED_AT = "the latest check of the receipt (this one, unless another came after it), ISO 8601 with an offset"


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
    check_count = fields.Integer(allow_none=True, metadata={"description": CHECK_COUNT})
    last_checked_at = Timestamp(allow_none=True, metadata={"description": LAST_CHECKED_AT})


def _limit():
    return current_app.config["VERIFY_RATE_LIMIT"]


def _signed_in_citizen():
    """The citizen of an optional Bearer token: the receipt's own payer is never locked out."""
    if "Authorization" not in request.headers:
        return None
    return authenticate_citizen(bearer_token())


@blp.route("")
class Verify(MethodView):
    decorators = [limiter.limit(_limit)]

    @blp.arguments(VerifyRequestSchema)
    @blp.response(200, VerifyResultSchema)
    @blp.doc(security=[{}, {"bearer": []}])
    @problem_response(blp, 401, "an Authorization header was sent and its citizen token is invalid")
    @problem_response(blp, 403, "insufficient_scope: a chat binding's token")
    @problem_response(blp, 429, "rate_limited (per client), too_many_attempts (wrong guesses from this address, "
                                "or on this receipt), proof_locked (receipt guessed wrong from many sources; a "
                                "citizen signed in as the receipt's payer is not refused)")
    def post(self, data):
        """Authentic or not, and the display status; nothing personal. Anyone may ask; a citizen
        may send their Bearer token, and the receipt's own payer is never refused for others' guesses."""
        return services.verify(**data, citizen=_signed_in_citizen())


class LayoutCheckSchema(Schema):
    """Only a valid file is read and compared with the record; any other is answered as not
    authentic, with its signature facts only (key null, elements empty, no mismatches, no status)."""

    valid = fields.Boolean(metadata={"description": "signed by this node, intact, covering the whole file"})
    signed = fields.Boolean()
    intact = fields.Boolean()
    trusted = fields.Boolean(metadata={"description": "the signing certificate is this node's"})
    coverage = fields.String(metadata={"description": "entire_file | entire_revision (changed after signing) | …"})
    signer = fields.String(allow_none=True)
    signed_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    key = fields.String(allow_none=True, metadata={"description": "null unless valid"})
    elements = fields.Dict(metadata={"description": "read from a valid file: code, number, check_code, issue_date, "
                                                    "total_amount, issuer_name, …; empty unless valid"})
    matches_record = fields.Boolean(metadata={"description": "valid, and the elements equal the stored receipt's"})
    mismatches = fields.List(fields.String(), metadata={"description": "elements of a valid file that differ from the stored receipt's; empty unless valid"})
    display_status = fields.String(allow_none=True, metadata={"description": "live status of the stored receipt; null unless valid"})
    lifecycle = fields.String(allow_none=True, metadata={"description": "null unless valid"})
    check_count = fields.Integer(allow_none=True, metadata={"description": CHECK_COUNT + "; null unless valid"})
    last_checked_at = Timestamp(allow_none=True, metadata={"description": LAST_CHECKED_AT + "; null unless valid"})


@blp.route("/layout")
class VerifyLayout(MethodView):
    decorators = [limiter.limit(_limit)]

    @blp.doc(requestBody={"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}}}})
    @blp.alt_response(200, schema=LayoutCheckSchema, success=True)
    @problem_response(blp, 413, "layout_too_large")
    @problem_response(blp, 422, "layout_missing, layout_not_a_pdf, layout_truncated, layout_malformed, layout_encrypted, "
                                "layout_unsigned, layout_bad_signature, layout_too_many_signatures, layout_too_complex "
                                "(a stream decodes to over 1 MiB, the file to over 8 MiB, or its page is too long to parse)")
    def post(self):
        """Check a layout file (signed PDF): signature, integrity, this node's certificate and,
        for a valid file, its elements against the stored receipt and the live status."""
        from flask import request

        from backend.common.errors import ValidationFailed
        from backend.verification.layout import check

        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed("Send the layout file as multipart field `file`.", code="layout_missing")
        return check(upload.read(current_app.config["LAYOUT_MAX_BYTES"] + 1))


class SealCheckSchema(Schema):
    valid = fields.Boolean()
    alg = fields.String(allow_none=True, metadata={"description": "SM2 or ES256; null when the file carries no such signature"})
    form = fields.String(metadata={"description": "invoicing party: xml (the file's own signature) or json (the issuer sealed the "
                                                 "JSON form; the node generated this file)"})
    reason = fields.String(allow_none=True, metadata={"description": "missing, mismatch, malformed_value, algorithm_mismatch, "
                                                                    "unsupported_algorithm, unknown_issuer, unusable_key; null when valid"})


class SealChecksSchema(Schema):
    invoicing_party = fields.Nested(SealCheckSchema, metadata={"description": "开票单位签章"})
    supervisor = fields.Nested(SealCheckSchema, metadata={"description": "财政监制签章 (this node's key)"})


class DataFileCheckSchema(Schema):
    valid = fields.Boolean(metadata={"description": "both seals hold"})
    reason = fields.String(allow_none=True, metadata={"description": "why not valid, e.g. supervisor_missing, invoicing_party_mismatch"})
    signatures = fields.Nested(SealChecksSchema)
    key = fields.String(allow_none=True, metadata={"description": "null unless valid"})
    elements = fields.Dict(metadata={"description": "the receipt the file states (§2 wire form, ID number masked); empty unless valid"})
    matches_stored = fields.Boolean(metadata={"description": "valid, and it states exactly the stored receipt"})
    mismatches = fields.List(fields.String(), metadata={"description": "fields of a valid file that differ from the stored receipt's"})
    display_status = fields.String(allow_none=True, metadata={"description": "live status of the stored receipt; null unless valid"})
    lifecycle = fields.String(allow_none=True, metadata={"description": "null unless valid"})
    check_count = fields.Integer(allow_none=True, metadata={"description": CHECK_COUNT + "; null unless valid and matching"})
    last_checked_at = Timestamp(allow_none=True, metadata={"description": LAST_CHECKED_AT + "; null unless valid and matching"})


@blp.route("/data-file")
class VerifyDataFile(MethodView):
    decorators = [limiter.limit(_limit)]

    @blp.doc(requestBody={"required": True, "content": {"application/xml": {"schema": {
        "type": "string", "description": "a national data file (DESIGN §11), as downloaded from GET …/receipts/{key}/data-file"}}}})
    @blp.alt_response(200, schema=DataFileCheckSchema, success=True)
    @problem_response(blp, 413, "data_file_too_large")
    @problem_response(blp, 415, "unsupported_media_type: send application/xml")
    @problem_response(blp, 422, "data_file_malformed, data_file_dtd_forbidden, data_file_too_deep, data_file_wrong_namespace, "
                                "data_file_unknown_element, data_file_duplicate_element, data_file_missing_element, "
                                "data_file_unexpected_content, data_file_invalid_value: not a data file at all")
    def post(self):
        """查验 by data file: both seals (issuer, finance) checked and named, what the file states
        and, for a valid one, whether it is the stored receipt, the live status and 查验次数."""
        from flask import request

        from backend.common.errors import DomainError
        from backend.datafile import DataFileInvalid
        from backend.verification.data_file import check

        if request.mimetype not in ("application/xml", "text/xml"):
            raise DomainError("Send the data file as application/xml.", code="unsupported_media_type", status=415,
                              title="请以 application/xml 提交数据文件")
        limit = current_app.config["DATA_FILE_MAX_BYTES"]
        data = request.get_data()  # bounded by MAX_CONTENT_LENGTH (the request guard has read it)
        if len(data) > limit:
            raise DataFileInvalid("data_file_too_large", f"A data file may be at most {limit} bytes.")
        return check(data, limit)


page_blp = FlaskBlueprint("verify_page", __name__)

PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>票夹 · 电子票据查验</title><link rel="stylesheet" href="/static/web/home.css"></head><body><main>
<h1>财政电子票据查验</h1>{body}<p class="lead"><a href="/">票夹 Piaojia</a></p></main></body></html>"""


VERDICT = "<p data-testid=\"verdict\">{}</p>"


@page_blp.get("/v/<key>")
def verification_page(key):
    """What a printed layout file's QR code opens: authentic or not, the live status and how
    often the receipt was checked (this visit included). Wrong check codes count like any proof
    of possession (and not as checks); over the limit, 429."""
    from flask import Response, request

    from backend.common.attempts import TooManyAttempts
    from backend.verification.layout import public_status

    headers = {}
    try:
        found = public_status(key, request.args.get("c", ""))
        body, status = (_found_body(found), 200) if found else (VERDICT.format("未通过查验：票据代码、号码或校验码不符。"), 404)
    except TooManyAttempts as exc:
        body, status, headers = VERDICT.format("查验次数过多，请稍后再试。"), 429, exc.headers
    response = Response(PAGE.format(body=body), status=status, mimetype="text/html", headers=headers)
    response.headers["Content-Security-Policy"] = "default-src 'self'; script-src 'none'; style-src 'self'; frame-ancestors 'none'"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _found_body(found: dict) -> str:
    from html import escape

    rows = [("票据", found["title"]), ("票据代码-号码", found["key"]), ("开票单位", found["issuer"]),
            ("开票日期", found["issue_date"]), ("金额", "¥" + found["total_amount"]), ("当前状态", found["display_status"]),
            ("可报销余额", "¥" + found["remaining_amount"])]
    if found["check_count"] is not None:
        rows += [("查验次数", f"{found['check_count']} 次（含本次）"), ("最近查验时间", _beijing_time(found["last_checked_at"]))]
    items = "".join(f"<li><span>{escape(k)}</span><strong>{escape(str(v))}</strong></li>" for k, v in rows)
    return VERDICT.format("查验通过：这是本平台开具的真实票据。") + f"<ul class=\"links\">{items}</ul>"


def _beijing_time(when) -> str:
    from backend.receipts.services import CHINA_TZ

    return when.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M（北京时间）")
