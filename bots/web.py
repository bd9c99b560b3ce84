"""The bot's HTTP edge: request bodies read with a bound, and problem details (RFC 9457) for
the endpoints that speak JSON."""
from flask import Response, json, request
from werkzeug.exceptions import RequestEntityTooLarge

MAX_BODY_BYTES = 64 * 1024  # a WeChat callback, a push or a web-chat question is a few KB at most
_CHUNK = 16 * 1024
PROBLEM_TYPE_BASE = "urn:piaojia:problem:"  # the API's own problem types


def read_body(limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, or RequestEntityTooLarge as soon as more than `limit` bytes arrived:
    at most `limit` + 1 bytes are read, whether the client sent a Content-Length or a chunked
    body without one (werkzeug's own `get_data` would silently cut a chunked body at
    MAX_CONTENT_LENGTH instead of refusing it)."""
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    stream, body = request.stream, bytearray()
    while len(body) <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - len(body)))
        if not chunk:
            return bytes(body)
        body += chunk
    raise RequestEntityTooLarge()


def problem(status: int, code: str, title: str, detail: str | None = None, **extra) -> Response:
    body = {"type": PROBLEM_TYPE_BASE + code, "title": title, "status": status, "code": code, **extra}
    if detail:
        body["detail"] = detail
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/problem+json")
