"""The hub: verifies every sender against its directory, keeps the payer index (keyed
hashes only) and routes — announcements to the nodes where the payer has an account,
subscriptions to the provinces that issued to the payer, requests to their audience.
It stores no receipt content."""
import logging

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backend.common.errors import NotFound, ValidationFailed
from backend.extensions import db
from backend.federation import messages, transport
from backend.federation.directory import node_url
from backend.federation.models import PayerIndexEntry

log = logging.getLogger(__name__)


def _index(fhash: str, province: str, role: str) -> None:
    if not isinstance(fhash, str) or len(fhash) != 64:
        raise ValidationFailed("payer_fhash is a 64-character hash.", code="malformed_message")
    exists = db.session.scalar(select(PayerIndexEntry.id).where(PayerIndexEntry.payer_fhash == fhash, PayerIndexEntry.province == province,
                                                                PayerIndexEntry.role == role))
    if exists is None:
        db.session.add(PayerIndexEntry(payer_fhash=fhash, province=province, role=role))
        try:
            db.session.commit()
        except IntegrityError:  # indexed at the same moment by another message
            db.session.rollback()


def _provinces(fhash: str, role: str) -> list[str]:
    return list(db.session.scalars(select(PayerIndexEntry.province).where(PayerIndexEntry.payer_fhash == fhash,
                                                                          PayerIndexEntry.role == role).order_by(PayerIndexEntry.province)))


def _ask(province: str, msg_type: str, body: dict) -> dict:
    """A message of the hub's own to a node; that node's answer body."""
    from backend.federation.exchange import read_answer

    url = node_url(province)
    if url is None:
        raise NotFound(f"Province {province} is not in the directory.", code="node_not_found")
    status, answer = read_answer(transport.post(url, messages.seal(msg_type, body, province)))
    if status >= 300:
        raise transport.IssuingNodeUnavailable(f"Province {province} answered {status}.")
    return answer.get("result") or {}


def handle_announce(sender: str, body: dict, token: str) -> tuple[int, dict]:
    fhash = body.get("payer_fhash")
    _index(fhash, sender, "issuer")
    delivered, failed = [], []
    for province in _provinces(fhash, "account"):
        if province == sender:
            continue
        try:
            _ask(province, "receipt.sync", {"original": token})
            delivered.append(province)
        except Exception as exc:  # noqa: BLE001 - the announcer retries; receivers apply each state once
            log.warning("announcement not forwarded to province %s: %s", province, type(exc).__name__)
            failed.append(province)
    if failed:
        return 503, {"delivered_to": delivered, "failed": failed}
    return 200, {"delivered_to": delivered}


def handle_subscribe(sender: str, body: dict) -> tuple[int, dict]:
    fhash = body.get("payer_fhash")
    _index(fhash, sender, "account")
    announcements, incomplete = [], []
    for province in _provinces(fhash, "issuer"):
        if province == sender:
            continue
        try:
            announcements += _ask(province, "payer.pull", {"payer_fhash": fhash}).get("announcements") or []
        except Exception as exc:  # noqa: BLE001 - the subscriber retries for the missing provinces
            log.warning("pull from province %s failed: %s", province, type(exc).__name__)
            incomplete.append(province)
    return 200, {"announcements": announcements, "incomplete": incomplete}


def forward(token: str, aud: str):
    """A request addressed to a node: passed on unchanged; its signed answer comes back as is."""
    url = node_url(aud)
    if url is None:
        raise NotFound(f"No node for province {aud} in the directory.", code="node_not_found", title="目录中没有该省节点")
    timeout = float(current_app.config["FEDERATION_TIMEOUT_SECONDS"])
    return transport.post(url, token, timeout=timeout)


def stats() -> dict:
    from sqlalchemy import func

    from backend.federation.models import FederationMessage, FederationNode

    return {
        "nodes": db.session.scalar(select(func.count()).select_from(FederationNode)),
        "payers_indexed": db.session.scalar(select(func.count(func.distinct(PayerIndexEntry.payer_fhash)))),
        "index_entries": dict(db.session.execute(select(PayerIndexEntry.role, func.count()).group_by(PayerIndexEntry.role)).all()),
        "messages": dict(db.session.execute(select(FederationMessage.type, func.count()).group_by(FederationMessage.type)).all()),
    }
