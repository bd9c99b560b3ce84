"""A node's handlers for federation messages (through the hub).

- `receipt.sync`: another province's receipt changed; the hub forwards the issuing node's
  signed announcement, checked here end to end, and the synced copy moves forward.
- `payer.pull`: a payer opened an account elsewhere; answer every receipt issued here to them.
- `unit.*`: a unit of another province acts on a receipt issued here. This node decides with
  the same services and invariants as for its own units; the unit is recorded as a foreign
  unit (its id, name and credit code as its node states them, its province the sender's).
"""
import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from backend.common.crypto import pii, sha256_hex
from backend.common.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from backend.common.models import as_utc, utcnow
from backend.common.money import parse_fen
from backend.extensions import db
from backend.federation import messages, snapshot
from backend.federation.directory import node_key_lookup
from backend.receipts.models import Receipt

log = logging.getLogger(__name__)
UNIT_OPERATIONS = ("unit.lock", "unit.unlock", "unit.renew", "unit.feedback", "unit.booking", "unit.verify", "unit.cancel",
                   "unit.release")


# --- synced copies ----------------------------------------------------------------------

def _foreign_issuer(issuer: dict):
    from backend.issuers.models import Issuer

    found = db.session.get(Issuer, issuer["id"])
    if found is None:
        found = Issuer(id=issuer["id"], name=issuer["name"], credit_code=issuer["credit_code"], province=issuer["province"],
                       status="federated")
        db.session.add(found)
        db.session.flush()
    return found


class SnapshotRefused(DomainError):
    status = 422
    code = "snapshot_refused"
    title = "跨省票据状态无效"


def _well_formed(snap) -> dict:
    """The snapshot's receipt. Its version counts the receipt's timeline entries on the
    issuing node (`snapshot.build`), so it must equal the length of the timeline it carries."""
    data = snap.get("receipt") if isinstance(snap, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("code"), str) or not isinstance(data.get("number"), str) \
            or snap.get("key") != f"{data['code']}-{data['number']}":
        raise SnapshotRefused("The snapshot does not name its receipt.")
    version, timeline = snap.get("version"), snap.get("timeline")
    if not isinstance(version, int) or isinstance(version, bool) or not isinstance(timeline, list) or version != len(timeline):
        log.warning("snapshot refused: version does not match its timeline", extra={"receipt_key": snap["key"]})
        raise SnapshotRefused("The snapshot's version does not match its timeline.", code="implausible_version")
    if not isinstance(snap.get("status"), dict) or not isinstance(snap.get("ledger"), list) or not isinstance(data.get("payer"), dict):
        raise SnapshotRefused("The snapshot lacks its status, ledger or payer.")
    return data


def apply_snapshot(snap: dict, origin: str) -> Receipt:
    """Creates or moves forward the synced copy; pushes (inbox, stream, chat, unit webhooks)
    fire here for each change. Older or equal versions change nothing."""
    from backend.authorizations.queries import interested_units
    from backend.events.outbox import EVENT_TYPES, emit
    from backend.receipts.presenters import PAYER_CONTEXT

    data = _well_formed(snap)
    if data["code"][:2] != origin or origin == current_app.config["NODE_PROVINCE"]:
        raise Forbidden("Only the issuing province announces a receipt.", code="not_authoritative")
    receipt = db.session.scalar(select(Receipt).where(Receipt.code == data["code"], Receipt.number == data["number"])
                                .with_for_update().execution_options(populate_existing=True))
    if receipt is not None and receipt.synced_at is None:
        raise Forbidden("This node issued that receipt itself.", code="not_authoritative")
    last = (receipt.sync_state or {}).get("version", 0) if receipt is not None else 0
    if last >= snap["version"]:
        db.session.rollback()
        return receipt
    if snap["version"] - last > current_app.config["FEDERATION_MAX_VERSION_STEP"]:
        db.session.rollback()
        log.warning("snapshot refused: version implausibly far ahead",
                    extra={"receipt_key": snap["key"], "origin": origin, "version": snap["version"], "last_version": last})
        raise SnapshotRefused(f"Version {snap['version']} is implausibly far ahead of {last}.", code="implausible_version")
    new = receipt is None
    payer = data["payer"]
    status = snap["status"]
    lock = status.get("lock")
    values = dict(
        province=origin, issuer_id=_foreign_issuer(snap["issuer"]).id, check_code=data["check_code"], kind=data["kind"],
        issue_date=datetime.fromisoformat(data["issue_date"]).date(), issued_at=datetime.fromisoformat(data["issued_at"]),
        total_fen=parse_fen(data["total_amount"]), payer_id_type=payer["id_type"],
        payer_hash=pii().lookup_hash(payer["id_type"], payer["id_number"]),
        payer_id_enc=pii().encrypt(payer["id_number"], PAYER_CONTEXT),
        payer_fhash=snapshot.payer_fhash(payer["id_type"], payer["id_number"]),
        elements={**{k: v for k, v in data.items() if k not in ("signature", "supervision_signature")},
                  "payer": {k: v for k, v in payer.items() if k != "id_number"}},
        content_hash=snap["key"], issuer_signature=data.get("signature"), platform_signature=data.get("supervision_signature"),
        lifecycle=status["lifecycle"], lifecycle_detail=status.get("lifecycle_detail"),
        # A remote lock: no Lock row here (the issuing node holds it), only its holder and times.
        lock_id=None, lock_token_hash=None,
        lock_unit_id=lock["unit_id"] if lock else None,
        locked_at=datetime.fromisoformat(lock["locked_at"]) if lock else None,
        lock_expires_at=datetime.fromisoformat(lock["expires_at"]) if lock else None,
        reimbursed_fen=parse_fen(status["reimbursed_amount"]), synced_at=utcnow(),
        sync_state={"version": snap["version"], "ledger": snap["ledger"], "timeline": snap["timeline"],
                    "lock_unit": lock["unit"] if lock else None, "origin": origin},
    )
    if new:
        receipt = Receipt(code=data["code"], number=data["number"], **values)
        db.session.add(receipt)
        db.session.flush()
    else:
        for name, value in values.items():
            setattr(receipt, name, value)
    last = snap.get("last_event") if snap.get("last_event") in EVENT_TYPES else "receipt.issued"
    emit("receipt.issued" if new else last, receipt=receipt, unit_ids=interested_units(receipt),
         data={"province": origin, "synced": True})
    db.session.commit()
    return receipt


def _open_announcement(token: str) -> tuple[dict, str]:
    claims = messages.open_(token, node_key_lookup, audience="hub")
    if claims["typ"] != "receipt.announce":
        raise ValidationFailed("Not an announcement.", code="malformed_message")
    return claims["body"]["snapshot"], claims["iss"]


def handle_sync(body: dict) -> dict:
    snap, origin = _open_announcement(body.get("original", ""))
    receipt = apply_snapshot(snap, origin)
    return {"key": receipt.key, "version": (receipt.sync_state or {}).get("version")}


def apply_announcements(tokens: list[str]) -> int:
    """Applies each verified announcement; one that is refused (forged, malformed, not its
    sender's to make) is logged and skipped, and the others still apply."""
    applied = 0
    for token in tokens:
        try:
            snap, origin = _open_announcement(token)
            apply_snapshot(snap, origin)
        except (messages.MessageRefused, SnapshotRefused, Forbidden, ValidationFailed) as exc:
            db.session.rollback()
            log.warning("pulled announcement refused", extra={"code": exc.code})
            continue
        applied += 1
    return applied


def handle_pull(body: dict) -> dict:
    from backend.federation.outbound import announcement_token

    fhash = body.get("payer_fhash")
    if not isinstance(fhash, str) or len(fhash) != 64:
        raise ValidationFailed("payer_fhash is a 64-character hash.", code="malformed_message")
    receipts = db.session.scalars(select(Receipt).where(Receipt.payer_fhash == fhash, Receipt.synced_at.is_(None))
                                  .order_by(Receipt.id).limit(5000)).all()
    return {"announcements": [announcement_token(r) for r in receipts]}


def handle_data_file(body: dict) -> dict:
    """Another node asks for the data file of a receipt issued here, for the payer whose
    synced copy it keeps: given only when the payer hash it names is that receipt's."""
    import base64

    from backend.receipts.data_files import file_of

    key, fhash = body.get("key"), body.get("payer_fhash")
    if not isinstance(key, str) or key[:2] != current_app.config["NODE_PROVINCE"] or not isinstance(fhash, str):
        raise NotFound("That receipt was not issued here.", code="receipt_not_found")
    code, _, number = key.partition("-")
    if db.session.scalar(select(Receipt.id).where(Receipt.code == code, Receipt.number == number, Receipt.synced_at.is_(None),
                                                  Receipt.payer_fhash == fhash)) is None:
        raise NotFound("No such receipt for that payer.", code="receipt_not_found")
    return {"key": key, "data_file": base64.b64encode(file_of(key)).decode("ascii")}


# --- a new account here ------------------------------------------------------------------

def subscribe(citizen_id: str):
    """A citizen signed in here: the hub notes the account, and this node applies every
    receipt other provinces issued to them before. Re-raises while a province is missing."""
    from backend.citizens.models import Citizen
    from backend.citizens.services import ID_CONTEXT
    from backend.federation import outbound
    from backend.federation.transport import IssuingNodeUnavailable

    citizen = db.session.get(Citizen, citizen_id)
    if citizen is None:
        return
    fhash = snapshot.payer_fhash(citizen.id_type, pii().decrypt(citizen.id_enc, ID_CONTEXT))
    # The sign-in this subscription rests on (the hub keeps this signed statement for audit).
    sign_in = {"at": as_utc(citizen.last_login_at).isoformat(), "account_ref": sha256_hex(f"piaojia-account:{citizen.id}")[:32]}
    body = outbound.to_hub(messages.seal("payer.subscribe", {"payer_fhash": fhash, "sign_in": sign_in}, "hub"))
    applied = apply_announcements(body.get("announcements") or [])
    log.info("subscribed a new account to the federation", extra={"applied": applied, "incomplete": body.get("incomplete")})
    if body.get("incomplete"):
        raise IssuingNodeUnavailable(f"Provinces {', '.join(body['incomplete'])} did not answer yet.")


# --- units of other provinces ------------------------------------------------------------

def _foreign_unit(sender: str, unit: dict):
    from backend.units.models import Unit

    if not isinstance(unit, dict) or unit.get("province") != sender:
        raise Forbidden("A node speaks only for units of its own province.", code="wrong_province")
    found = db.session.get(Unit, unit.get("id"))
    if found is None:
        same_code = db.session.scalar(select(Unit.id).where(Unit.credit_code == unit.get("credit_code")))
        if same_code is not None:
            log.warning("a node named a known credit code with another unit id", extra={"sender": sender})
            raise Conflict("Another unit is known here under this credit code.", code="unit_identity_conflict")
        found = Unit(id=unit["id"], name=unit["name"], credit_code=unit["credit_code"], kind=unit["kind"], province=sender,
                     status=unit.get("status", "active"))
        db.session.add(found)
    elif found.province != sender:
        raise Forbidden("That unit belongs to another province.", code="wrong_province")
    else:
        found.name, found.status = unit["name"], unit.get("status", found.status)
    db.session.commit()
    return found


def _with_snapshot(result: dict, key: str) -> dict:
    from backend.receipts.services import find_by_key

    receipt = find_by_key(key)
    return {**result, "snapshot": snapshot.build(receipt) if receipt is not None else None}


def handle_unit_operation(sender: str, msg_type: str, body: dict, jti: str) -> tuple[int, dict]:
    from backend.reimbursements import services as reimbursements
    from backend.units import views

    unit = _foreign_unit(sender, body.get("unit"))
    key = body.get("key")
    if msg_type != "unit.verify" and (not isinstance(key, str) or key[:2] != current_app.config["NODE_PROVINCE"]):
        raise NotFound("That receipt was not issued here.", code="receipt_not_found")
    if msg_type == "unit.lock":
        result = reimbursements.lock(unit, key, check_code=body.get("check_code"), total_amount=body.get("total_amount"))
        return 201, _with_snapshot(result, key)
    if msg_type == "unit.unlock":
        return 200, _with_snapshot(reimbursements.unlock(unit, key, body.get("lock_token", ""), body.get("reason")), key)
    if msg_type == "unit.renew":
        return 200, _with_snapshot(reimbursements.renew(unit, key, body.get("lock_token", "")), key)
    if msg_type == "unit.feedback":
        when = datetime.fromisoformat(body["reimbursed_at"]) if body.get("reimbursed_at") else None
        result = reimbursements.feedback(unit, key, lock_token=body.get("lock_token", ""), outcome=body.get("outcome"),
                                         amount=body.get("amount"), reimbursed_at=when, reference=body.get("reference"),
                                         reason=body.get("reason"), settlement=body.get("settlement"))
        return 201, _with_snapshot(result, key)
    if msg_type == "unit.booking":
        from datetime import date

        result = reimbursements.book(unit, key, voucher_no=body.get("voucher_no", ""), booked_on=date.fromisoformat(body["booked_on"]),
                                     amount=body.get("amount"))
        return 201, _with_snapshot(result, key)
    if msg_type == "unit.verify":
        return 200, views.batch_verify(unit, body.get("items") or [])
    if msg_type == "unit.cancel":
        return 200, _cancel(unit, body)
    if msg_type == "unit.release":  # the unit was cancelled on its own node (its status says so)
        from backend.common.actors import Actor

        actor = Actor("node", sender, f"报销单位所在省节点（{sender}）")
        return 200, _with_snapshot(reimbursements.release_lock_of_cancelled_unit(unit, key, actor), key)
    raise ValidationFailed(f"Unknown message type {msg_type}.", code="unknown_message_type")


def _cancel(unit, body: dict) -> dict:
    """The caller gave up waiting for a lock answer: undo that lock if it was granted and is
    still held. Unknown message ids are answered `unknown` (the caller retries until the
    original has expired and can no longer arrive)."""
    from backend.federation.models import FederationMessage
    from backend.reimbursements import services as reimbursements

    original = db.session.get(FederationMessage, body.get("jti", ""))
    if original is None:
        return {"result": "unknown"}
    answer = original.answer or {}
    token = (answer.get("result") or {}).get("lock_token")
    if answer.get("status") != 201 or not token:
        return {"result": "nothing_to_undo"}
    try:
        reimbursements.unlock(unit, body["key"], token, "调用方超时未收到应答，自动撤销锁定")
    except DomainError as exc:
        return {"result": "already_ended", "code": exc.code}
    return {"result": "unlocked"}
