"""Receipt lifecycle as pushed by issuers: issue, red reversal, paper exchange, void.

Each function works inside the caller's transaction (the webhook delivery is one
transaction together with its replay record) and raises domain errors; nothing here
commits.
"""
import itertools
from datetime import datetime, timedelta, timezone

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import defer

from backend.common.actors import Actor
from backend.common.crypto import federated_payer_hash, pii, sha256_hex
from backend.common.errors import Conflict, DomainError, NotFound, ValidationFailed
from backend.common.models import utcnow
from backend.common.money import parse_fen
from backend.extensions import db
from backend.issuers.models import Issuer
from backend.issuers.services import series_for_receipt, valid_public_keys
from backend.receipts import data_files, rules, signing
from backend.receipts.events import NewReceipt, record_change, record_issued_many
from backend.receipts.schemas import ReceiptWireSchema
from backend.receipts.models import Receipt
from backend.receipts.presenters import PAYER_CONTEXT, is_locked

CHINA_TZ = timezone(timedelta(hours=8))


class InvalidReceiptSignature(ValidationFailed):
    code = "invalid_receipt_signature"
    title = "票据签章验证失败"


class ReceiptRulesViolated(ValidationFailed):
    code = "receipt_rules_violated"
    title = "票据要素校验未通过"


class ReceiptConflict(Conflict):
    code = "receipt_conflict"
    title = "票据已存在且内容不同"


class ReceiptLocked(Conflict):
    code = "receipt_locked"
    title = "票据已被报销单位锁定，暂不能变更"


class ReceiptReimbursed(Conflict):
    code = "receipt_reimbursed"
    title = "票据已有报销记录，不能变更"


class InvalidTransition(Conflict):
    code = "invalid_lifecycle_transition"
    title = "票据当前状态不允许此操作"


def _issuer_actor(issuer: Issuer) -> Actor:
    return Actor("issuer", issuer.id, issuer.name)


# The wire form, its signatures and the encrypted ID number: what deciding on amounts,
# lifecycle and locks never needs.
_BULKY_COLUMNS = (Receipt.elements, Receipt.issuer_signature, Receipt.platform_signature, Receipt.payer_id_enc, Receipt.lifecycle_detail)


def _receipt_query(for_update: bool, by_payer: bool, lean: bool):
    query = select(Receipt).where(Receipt.code == bindparam("code"), Receipt.number == bindparam("number"))
    if by_payer:
        query = query.where(Receipt.payer_hash == bindparam("payer_hash"))
    if lean:
        query = query.options(*(defer(column) for column in _BULKY_COLUMNS))
    if for_update:
        # populate_existing: what we decide on must be the row as locked, not an older copy in the session
        query = query.with_for_update(of=Receipt).execution_options(populate_existing=True)
    return query


# Built once (every change of a receipt starts here); executed with separate parameters.
_RECEIPT_QUERIES = {flags: _receipt_query(*flags) for flags in itertools.product((False, True), repeat=3)}


def find_receipt(code: str, number: str, *, for_update=False, payer_hash: str | None = None, lean=False) -> Receipt | None:
    """The receipt with this code and number (only if its payer is `payer_hash`, when given);
    `for_update` takes its row lock, which serialises every change of one receipt; `lean`
    leaves the bulky columns in the database until read."""
    params = {"code": code, "number": number}
    if payer_hash is not None:
        params["payer_hash"] = payer_hash
    return db.session.scalar(_RECEIPT_QUERIES[(bool(for_update), payer_hash is not None, bool(lean))], params)


def find_by_key(key: str, **kwargs) -> Receipt | None:
    """Same, by the URL key `{code}-{number}`."""
    code, _, number = (key or "").partition("-")
    return find_receipt(code, number, **kwargs)


# Built once: a statement executed with separate parameters reuses its compiled form.
_INSERT_RECEIPT = insert(Receipt.__table__).returning(Receipt.__table__.c.id)
# Several rows at once, their ids back in the order given (SQLAlchemy's insertmanyvalues).
_INSERT_RECEIPT_MANY = insert(Receipt.__table__).returning(Receipt.__table__.c.id, sort_by_parameter_order=True)
_BATCH_SCHEMA = ReceiptWireSchema()  # built once (a schema instance deep-copies its fields)


def _checked_row(issuer: Issuer, raw: dict, loaded: dict, today, series=None, *, sealed_as_data_file=False) -> dict:
    """The receipt row for an issued receipt, after every rule and the issuer's seal; raises
    the refusal otherwise. No database writes. `series`: the code series, when known.
    `sealed_as_data_file`: the issuer's seal is the XML signature of its data file, already
    checked (backend.receipts.data_files.read_pushed)."""
    ctx = rules.ReceiptContext(
        node_province=current_app.config["NODE_PROVINCE"],
        issuer_credit_code=issuer.credit_code,
        today=today,
        issuer_id=issuer.id,
        series=series if series is not None else series_for_receipt(issuer.id, raw["code"]),
        series_required=current_app.config["CODE_SERIES_REQUIRED"],
    )
    violations = rules.check_receipt(loaded, ctx)
    if violations:
        raise ReceiptRulesViolated(
            f"{len(violations)} rule(s) violated: " + "; ".join(v.message for v in violations[:5]),
            errors=[v.as_dict() for v in violations],
        )
    canonical = signing.canonical_bytes(raw)
    if not sealed_as_data_file and not any(signing.verify_issuer_signature(key.public_key_pem, key.alg, canonical, raw["signature"])
               for key in valid_public_keys(issuer)):
        raise InvalidReceiptSignature("The issuer's signature does not verify against its registered public key.")
    payer = raw["payer"]
    # `raw` was parsed from this request's body: nothing else holds it, no copy needed.
    elements = {k: v for k, v in raw.items() if k not in signing.SIGNATURE_FIELDS}
    elements["payer"] = {k: v for k, v in payer.items() if k != "id_number"}
    return dict(
        code=raw["code"], number=raw["number"], province=raw["code"][:2], issuer_id=issuer.id,
        check_code=raw["check_code"], kind=raw["kind"], issue_date=loaded["issue_date"],
        issued_at=loaded["issued_at"], total_fen=parse_fen(raw["total_amount"]),
        payer_id_type=payer["id_type"], payer_hash=pii().lookup_hash(payer["id_type"], payer["id_number"]),
        payer_fhash=federated_payer_hash(payer["id_type"], payer["id_number"]),
        payer_id_enc=pii().encrypt(payer["id_number"], PAYER_CONTEXT),
        elements=elements, content_hash=sha256_hex(canonical), issuer_signature=raw["signature"],
        platform_signature=signing.platform_signer().sign(raw), lifecycle="issued", reimbursed_fen=0,
    )


def _require_own_province(issuer: Issuer):
    if issuer.province != current_app.config["NODE_PROVINCE"]:
        raise ValidationFailed("This issuer belongs to another province's node.", code="wrong_province")


def issue_receipt(issuer: Issuer, raw: dict, loaded: dict, *, assume_new: bool = False,
                  data_file=None) -> tuple[Receipt | NewReceipt, str]:
    """Accepts a newly issued receipt. `raw` is the JSON as sent, `loaded` its schema-loaded form.
    With `assume_new` the duplicate lookup is skipped: a receipt already stored then fails
    the insert with an IntegrityError, and the caller retries without it. `data_file`: the
    parsed national data file it came as (`data_files.read_pushed`), kept with it.

    Returns (receipt, "applied" | "unchanged").
    """
    _require_own_province(issuer)
    row = _checked_row(issuer, raw, loaded, datetime.now(CHINA_TZ).date(), sealed_as_data_file=data_file is not None)
    if not assume_new:
        existing = db.session.execute(
            select(Receipt.id, Receipt.issuer_id, Receipt.content_hash).where(Receipt.code == raw["code"], Receipt.number == raw["number"])
        ).first()
        if existing is not None:
            if existing.issuer_id != issuer.id or existing.content_hash != row["content_hash"]:
                raise ReceiptConflict(f"Receipt {raw['code']}-{raw['number']} was already accepted with different content.")
            return db.session.get(Receipt, existing.id), "unchanged"
    # A Core insert: this hot path needs none of the unit of work's bookkeeping.
    receipt_id = db.session.execute(_INSERT_RECEIPT, row).scalar_one()
    if data_file is not None:
        data_files.store_pushed([(receipt_id, data_file)])
    receipt = NewReceipt(id=receipt_id, code=row["code"], number=row["number"], payer_hash=row["payer_hash"])
    record_change(receipt, "receipt.issued", _issuer_actor(issuer), data={"total_amount": raw["total_amount"]})
    return receipt, "applied"


MAX_BATCH = 500


def issue_batch(issuer: Issuer, raws: list) -> list[dict]:
    """A backfill: up to MAX_BATCH issued receipts in one delivery, itemised — each is
    accepted (`applied`), already there with the same content (`unchanged`) or refused with
    its own problem, and the others go on. The accepted ones are written with multi-row
    inserts in the delivery's one transaction. Returns a result per item, in order."""
    _require_own_province(issuer)
    schema, today = _BATCH_SCHEMA, datetime.now(CHINA_TZ).date()
    results, rows, seen, series, files = [], [], set(), {}, {}
    for index, raw in enumerate(raws):
        try:
            if not isinstance(raw, dict):
                raise ValidationFailed("Each item is a receipt object.")
            if data_files.is_data_file_push(raw):
                raw, loaded, files[index] = data_files.read_pushed(issuer, raw)
            else:
                try:
                    loaded = schema.load(raw)
                except ValidationError as exc:
                    raise ValidationFailed("The receipt does not match the schema.", errors=exc.messages)
            if (raw["code"], raw["number"]) in seen:
                raise ReceiptConflict("The same receipt appears twice in this batch.", code="duplicate_in_batch")
            seen.add((raw["code"], raw["number"]))
            if raw["code"] not in series:  # one lookup per receipt code, not per receipt
                series[raw["code"]] = series_for_receipt(issuer.id, raw["code"])
            rows.append((index, _checked_row(issuer, raw, loaded, today, series[raw["code"]], sealed_as_data_file=index in files)))
            results.append(None)
        except DomainError as exc:
            results.append({"index": index, "key": _key_of(raw), "result": "refused", "code": exc.code, "title": exc.title,
                            "detail": exc.detail, **({"errors": exc.extra["errors"]} if "errors" in exc.extra else {})})
    if rows:
        pairs = {(row["code"], row["number"]) for _, row in rows}
        existing = {(r.code, r.number): r for r in db.session.execute(
            select(Receipt.code, Receipt.number, Receipt.issuer_id, Receipt.content_hash)
            .where(Receipt.code.in_({c for c, _ in pairs}), Receipt.number.in_({n for _, n in pairs})))}
        fresh = []
        for index, row in rows:
            found = existing.get((row["code"], row["number"]))
            if found is None:
                fresh.append((index, row))
            elif found.issuer_id == issuer.id and found.content_hash == row["content_hash"]:
                results[index] = {"index": index, "key": f"{row['code']}-{row['number']}", "result": "unchanged"}
            else:
                conflict = ReceiptConflict("Already accepted with different content.")
                results[index] = {"index": index, "key": f"{row['code']}-{row['number']}", "result": "refused",
                                  "code": conflict.code, "title": conflict.title, "detail": conflict.detail}
        if fresh:
            ids = db.session.execute(_INSERT_RECEIPT_MANY, [row for _, row in fresh]).scalars().all()
            new = [NewReceipt(id=receipt_id, code=row["code"], number=row["number"], payer_hash=row["payer_hash"])
                   for (_, row), receipt_id in zip(fresh, ids)]
            data_files.store_pushed([(receipt.id, files[index]) for (index, _), receipt in zip(fresh, new) if index in files])
            record_issued_many(new, _issuer_actor(issuer), [row["elements"]["total_amount"] for _, row in fresh])
            for (index, _), receipt in zip(fresh, new):
                results[index] = {"index": index, "key": receipt.key, "result": "applied"}
    return results


def _key_of(raw) -> str | None:
    if isinstance(raw, dict) and isinstance(raw.get("code"), str) and isinstance(raw.get("number"), str):
        return f"{raw['code'][:8]}-{raw['number'][:10]}"
    return None


def _owned_for_change(issuer: Issuer, data: dict) -> Receipt:
    receipt = find_receipt(data["code"], data["number"], for_update=True)
    if receipt is None or receipt.issuer_id != issuer.id:
        raise NotFound(f"No receipt {data['code']}-{data['number']} from this issuer.", code="receipt_not_found", title="未找到该票据")
    return receipt


def _change_lifecycle(issuer: Issuer, data: dict, target: str, detail: dict, event: str, reason=None) -> tuple[Receipt, str]:
    receipt = _owned_for_change(issuer, data)
    if receipt.lifecycle == target and receipt.lifecycle_detail == detail:
        return receipt, "unchanged"
    if receipt.lifecycle != "issued":
        raise InvalidTransition(f"Receipt {receipt.key} is {receipt.lifecycle}; it cannot become {target}.")
    if is_locked(receipt):
        raise ReceiptLocked(f"Receipt {receipt.key} is locked by a reimbursing unit until the lock ends; nothing was changed.")
    if receipt.reimbursed_fen > 0:
        raise ReceiptReimbursed(f"Receipt {receipt.key} has been (partly) reimbursed; it cannot become {target}.")
    receipt.lifecycle = target
    receipt.lifecycle_detail = detail
    receipt.updated_at = utcnow()
    record_change(receipt, event, _issuer_actor(issuer), reason=reason, data=detail)
    return receipt, "applied"


def red_reverse(issuer: Issuer, raw: dict, loaded: dict) -> tuple[Receipt, str]:
    red = raw["red_receipt"]
    if red["code"][:2] != raw["code"][:2]:
        raise ValidationFailed("The red receipt must come from the same province.", code="wrong_province")
    detail = {"red_receipt": red, "reason": raw["reason"]}
    return _change_lifecycle(issuer, raw, "red_reversed", detail, "receipt.red_reversed", raw["reason"])


def exchange_for_paper(issuer: Issuer, raw: dict, loaded: dict) -> tuple[Receipt, str]:
    detail = {"paper_receipt": raw["paper_receipt"]}
    if raw.get("reason"):
        detail["reason"] = raw["reason"]
    return _change_lifecycle(issuer, raw, "paper_exchanged", detail, "receipt.paper_exchanged", raw.get("reason"))


def void(issuer: Issuer, raw: dict, loaded: dict) -> tuple[Receipt, str]:
    detail = {"reason": raw["reason"]}
    return _change_lifecycle(issuer, raw, "voided", detail, "receipt.voided", raw["reason"])


HANDLERS = {
    "receipt.issued": issue_receipt,
    "receipt.red_reversed": red_reverse,
    "receipt.paper_exchanged": exchange_for_paper,
    "receipt.voided": void,
}
