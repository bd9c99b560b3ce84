"""Sending a message through the hub and reading the signed answer."""
from flask import current_app

from backend.federation import messages, transport
from backend.federation.directory import node_key_lookup


def read_answer(resp) -> tuple[int, dict]:
    """A peer's signed answer (verified: the hub against its directory, a node against the
    hub's) as (status, body); a problem-details answer becomes our domain error."""
    from backend.federation import is_hub
    from backend.federation.directory import hub_key_lookup

    if resp.headers.get("content-type", "").startswith(transport.CONTENT_TYPE):
        claims = messages.open_(resp.text, hub_key_lookup if is_hub(current_app) else node_key_lookup)
        body = claims["body"]
        return int(body.get("status", 500)), body
    raise transport.problem_from(resp)


def send(unit, msg_type: str, key: str, params: dict, *, jti: str | None = None) -> tuple[int, dict]:
    unit_view = {"id": unit.id, "name": unit.name, "credit_code": unit.credit_code, "kind": unit.kind,
                 "province": unit.province, "status": unit.status}
    token = messages.seal(msg_type, {"unit": unit_view, "key": key, **params}, aud=key[:2], jti=jti)
    return read_answer(transport.post(current_app.config["HUB_URL"], token))
