"""Domain errors and their rendering as RFC 9457 problem details.

Services raise `DomainError` subclasses; they never know about HTTP beyond the status
each error maps to. Every problem carries a stable machine-readable `code`; `title` is
Chinese because citizens see it; `detail` explains this occurrence.
"""
import logging

from flask import g, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "urn:piaojia:problem:"


class DomainError(Exception):
    status = 400
    code = "bad_request"
    title = "请求有误"

    def __init__(self, detail=None, *, code=None, title=None, status=None, extra=None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code:
            self.code = code
        if title:
            self.title = title
        if status:
            self.status = status
        self.extra = extra or {}


class ValidationFailed(DomainError):
    status = 422
    code = "validation_failed"
    title = "提交的数据不符合要求"

    def __init__(self, detail=None, *, errors=None, **kwargs):
        super().__init__(detail, **kwargs)
        if errors is not None:
            self.extra.setdefault("errors", errors)


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    title = "身份验证失败"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "无权执行此操作"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "未找到"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "与当前状态冲突"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"
    title = "提交的内容过大"


class ServiceUnavailable(DomainError):
    status = 503
    code = "service_unavailable"
    title = "服务暂不可用，请稍后重试"


HTTP_CODES = {
    400: ("bad_request", "请求有误"),
    401: ("unauthorized", "身份验证失败"),
    403: ("forbidden", "无权执行此操作"),
    404: ("not_found", "未找到"),
    405: ("method_not_allowed", "不支持此请求方法"),
    409: ("conflict", "与当前状态冲突"),
    413: ("payload_too_large", "提交的内容过大"),
    415: ("unsupported_media_type", "不支持的内容类型"),
    422: ("validation_failed", "提交的数据不符合要求"),
    429: ("rate_limited", "请求过于频繁，请稍后再试"),
    500: ("internal_error", "系统内部错误"),
    503: ("service_unavailable", "服务暂不可用，请稍后重试"),
}


def problem(status, code, title, detail, **extra):
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    request_id = g.get("request_id") if g else None
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _http_problem(exc: HTTPException):
    status = exc.code or 500
    code, title = HTTP_CODES.get(status, ("http_error", exc.name))
    extra = {}
    data = getattr(exc, "data", None)  # webargs/flask-smorest validation messages
    if data and isinstance(data, dict) and data.get("messages"):
        extra["errors"] = data["messages"]
        detail = "请求参数校验失败"
    else:
        detail = exc.description or title
    headers = exc.get_headers() if status in (405, 429) else None
    response = problem(status, code, title, detail, **extra)
    if headers:
        for name, value in headers:
            if name.lower() not in ("content-type", "content-length"):
                response.headers[name] = value
    return response


def _rollback():
    """A refused or failed request leaves nothing half-written in its session."""
    from backend.extensions import db

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the answer matters more than a failed rollback
        log.exception("rollback after an error failed")


class InvalidCharacters(DomainError):
    status = 400
    code = "invalid_characters"
    title = "请求中含有不允许的字符"


def register_error_handlers(app):
    from backend.common.request_guard import guard_request

    app.before_request(guard_request)

    @app.errorhandler(DomainError)
    def handle_domain_error(exc):
        _rollback()
        log.info("request refused", extra={"problem_code": exc.code, "status": exc.status})
        response = problem(exc.status, exc.code, exc.title, exc.detail, **exc.extra)
        response.headers.extend(getattr(exc, "headers", None) or {})
        return response

    @app.errorhandler(HTTPException)
    def handle_http_exception(exc):
        if exc.code and exc.code >= 500:
            log.error("http error", extra={"status": exc.code})
        else:
            log.info("request refused", extra={"status": exc.code})
        return _http_problem(exc)

    @app.errorhandler(Exception)
    def handle_unexpected(exc):
        if isinstance(exc, HTTPException):
            return _http_problem(exc)
        _rollback()
        log.exception("unhandled error")
        return problem(500, "internal_error", "系统内部错误", "An unexpected error occurred; it has been logged.")
