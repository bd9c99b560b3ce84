"""Structured JSON logs with the request id on every line and no personal data."""
import logging
import re
import sys
import time
import traceback
import uuid

from flask import g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

# Safety net: an 18-character resident ID or 15+ digit run that slipped into a message.
_ID_PATTERN = re.compile(r"\b\d{6}(?:18|19|20)\d{2}[01]\d[0-3]\d\d{3}[\dXx]\b|\b\d{15,}\b")
_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# A caller's request id is logged unredacted (it is what ties the lines together), so one that
# could carry an ID number (a run of 15 or more digits) is replaced like a malformed one.
_DIGIT_RUN = re.compile(r"\d{15,}")


def accepted_request_id(incoming: str) -> str | None:
    """The caller's X-Request-ID if it is safe to log verbatim, else None."""
    if _REQUEST_ID_PATTERN.match(incoming) and not _DIGIT_RUN.search(incoming):
        return incoming
    return None


_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id"}


def redact(value):
    """The value with every ID-number-like run replaced, in strings nested anywhere."""
    if isinstance(value, str):
        return _ID_PATTERN.sub("[redacted]", value)
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v) for v in value)
    return value


class RedactingFilter(logging.Filter):
    """The one place personal data leaves log records: the message and its arguments,
    every extra field (paths, receipt keys, errors…), exception and stack text. Also puts
    the request id on every record."""

    def filter(self, record):
        record.request_id = g.get("request_id") if has_request_context() else getattr(record, "request_id", None)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if record.args:
            record.args = redact(record.args) if isinstance(record.args, tuple) else redact(dict(record.args))
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_ATTRIBUTES:
                setattr(record, name, redact(value))
        if record.exc_info:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def build_handler(stream, as_json: bool) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    if as_json:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    return handler


def configure(app):
    handler = build_handler(sys.stderr, app.config.get("LOG_JSON", True))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_piaojia", False):
            root.removeHandler(existing)
    handler._piaojia = True
    root.addHandler(handler)
    root.setLevel(app.config.get("LOG_LEVEL", "INFO"))
    logging.getLogger("werkzeug").setLevel("WARNING")

    access = logging.getLogger("piaojia.access")

    @app.before_request
    def assign_request_id():
        g.request_id = accepted_request_id(request.headers.get("X-Request-ID", "")) or uuid.uuid4().hex

    @app.before_request
    def start_clock():
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        duration_ms = round((time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000, 1)
        # Query strings are not logged; the path is redacted like every field (RedactingFilter).
        access.info(
            "%s %s %s %sms", request.method, request.path, response.status_code, duration_ms,
            extra={"method": request.method, "path": request.path, "status": response.status_code, "duration_ms": duration_ms},
        )
        return response
