"""Structured JSON logs with the request id on every line and no personal data."""
import logging
import re
import sys
import time
import uuid

from flask import g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

# Safety net: an 18-character resident ID or 15+ digit run that slipped into a message.
_ID_PATTERN = re.compile(r"\b\d{6}(?:18|19|20)\d{2}[01]\d[0-3]\d\d{3}[\dXx]\b|\b\d{15,}\b")
_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextFilter(logging.Filter):
    def filter(self, record):
        record.request_id = g.get("request_id") if has_request_context() else getattr(record, "request_id", None)
        if isinstance(record.msg, str):
            record.msg = _ID_PATTERN.sub("[redacted]", record.msg)
        if record.args:
            record.args = tuple(_ID_PATTERN.sub("[redacted]", a) if isinstance(a, str) else a for a in record.args)
        return True


def configure(app):
    handler = logging.StreamHandler(sys.stderr)
    if app.config.get("LOG_JSON", True):
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"))
    handler.addFilter(RequestContextFilter())
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
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex

    @app.before_request
    def start_clock():
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        duration_ms = round((time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000, 1)
        # The path may hold a receipt key but never personal data; query strings are not logged.
        access.info(
            "%s %s %s %sms", request.method, request.path, response.status_code, duration_ms,
            extra={"method": request.method, "path": request.path, "status": response.status_code, "duration_ms": duration_ms},
        )
        return response
