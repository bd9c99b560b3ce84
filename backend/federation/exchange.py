"""Sending a message through the hub and reading the signed answer.

An answer is believed only when it is what was asked for: signed by the party the request
was addressed to (its `iss`, checked against the directory), a `<type>.answer` to this
very request (`in_reply_to` = the request's `jti`), addressed to us. Anything else is a
peer misbehaving: refused (502 `invalid_federation_answer`) and logged.
"""
import logging
import uuid

from flask import current_app

from backend.common.errors import DomainError
from backend.federation import messages, transport
from backend.federation.directory import node_key_lookup

log = logging.getLogger(__name__)


class InvalidAnswer(DomainError):
    status = 502
    code = "invalid_federation_answer"
    title = "对方节点的应答无效"


def read_answer(resp, *, expect_from: str | None = None, in_reply_to: str | None = None,
                msg_type: str | None = None) -> tuple[int, dict]:
    """A peer's signed answer (verified: the hub against its directory, a node against the
    hub's) as (status, body); a problem-details answer becomes our domain error."""
    from backend.federation import is_hub
    from backend.federation.directory import hub_key_lookup

    if not resp.headers.get("content-type", "").startswith(transport.CONTENT_TYPE):
        raise transport.problem_from(resp)
    claims = messages.open_(resp.text, hub_key_lookup if is_hub(current_app) else node_key_lookup)
    body = claims["body"]
    wrong = (
        "sender" if expect_from is not None and claims["iss"] != expect_from else
        "in_reply_to" if in_reply_to is not None and body.get("in_reply_to") != in_reply_to else
        "type" if msg_type is not None and claims["typ"] != f"{msg_type}.answer" else
        "status" if not isinstance(body.get("status"), int) else None
    )
    if wrong:
        log.warning("federation answer refused", extra={"reason": wrong, "sender": claims["iss"], "expected": expect_from,
                                                        "type": claims["typ"]})
        raise InvalidAnswer(f"The answer does not match the request ({wrong}).")
    return body["status"], body


def send(unit, msg_type: str, key: str, params: dict, *, jti: str | None = None) -> tuple[int, dict]:
    """Asks the issuing node of `key` (through the hub) for a unit; its verified answer."""
    unit_view = {"id": unit.id, "name": unit.name, "credit_code": unit.credit_code, "kind": unit.kind,
                 "province": unit.province, "status": unit.status}
    return ask(msg_type, key, {"unit": unit_view, **params}, jti=jti)


def ask(msg_type: str, key: str, body: dict, *, jti: str | None = None) -> tuple[int, dict]:
    """Asks the issuing node of `key` (through the hub); its verified answer."""
    jti = jti or uuid.uuid4().hex
    token = messages.seal(msg_type, {"key": key, **body}, aud=key[:2], jti=jti)
    return read_answer(transport.post(current_app.config["HUB_URL"], token), expect_from=key[:2], in_reply_to=jti,
                       msg_type=msg_type)
