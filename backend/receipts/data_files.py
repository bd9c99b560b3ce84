"""Receipts pushed as national data files (DESIGN §11), and every receipt's data file.

- `read_pushed(issuer, data)`: a `receipt.issued` (or `receipt.batch` item) of the form
  `{"data_file": base64}` → the wire-form receipt it states, loaded by the same schema as a
  JSON push, with the issuer's XML signature checked against its registered keys. Every §2
  rule then applies through `services._checked_row`, exactly as for JSON.
- `store_pushed(receipt_id, file)`: keeps the file's bytes unchanged (the legal original,
  with its SHA-256) and the complete file: `SupervisorPartySeal` filled and the node's
  `SupervisorPartySignature` added (the platform key, ES256 or SM2: PLATFORM_SIGNATURE_ALG).
- `complete_file(receipt)`: the complete file; for a receipt pushed as JSON, generated on
  first request from its elements and kept — sealed and signed by the node; its
  `InvoicingPartySignature` is left empty, since the issuer signed the JSON form (its
  signature stays in the receipt's `signature`; docs/data-file.md).
"""
import base64
import binascii
import logging
import uuid

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from backend import datafile
from backend.common.crypto import sha256_hex
from backend.common.errors import NotFound, ValidationFailed
from backend.extensions import db
from backend.issuers.services import valid_public_keys
from backend.receipts import signing
from backend.receipts.models import Receipt, ReceiptDataFile
from backend.receipts.schemas import ReceiptWireSchema

log = logging.getLogger(__name__)
SEAL_NAME = "财政电子票据监制章"
_SCHEMA = ReceiptWireSchema()
_INSERT = insert(ReceiptDataFile.__table__)


class InvalidDataFileSignature(ValidationFailed):
    code = "invalid_data_file_signature"
    title = "数据文件的开票单位签章验证失败"


def is_data_file_push(data) -> bool:
    return isinstance(data, dict) and "data_file" in data


def decode(data: dict) -> bytes:
    """The XML bytes of `{"data_file": base64}` (nothing else beside it)."""
    limit = current_app.config["DATA_FILE_MAX_BYTES"]
    value = data.get("data_file")
    if set(data) != {"data_file"} or not isinstance(value, str):
        raise ValidationFailed('A data-file push is {"data_file": "<base64 of the XML>"} and nothing else.', code="data_file_malformed")
    if len(value) > (limit * 4) // 3 + 4:
        raise datafile.DataFileInvalid("data_file_too_large", f"A data file may be at most {limit} bytes.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed("data_file is not base64.", code="data_file_malformed")


def _schema_errors(messages) -> list[dict]:
    """The schema's complaints, each with the data file element it concerns."""
    found = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else str(key))
        elif isinstance(node, list) and all(isinstance(m, str) for m in node):
            found.append({"field": path, "element": datafile.element_path(path), "messages": node})

    walk(messages, "")
    return found


def read_pushed(issuer, data: dict) -> tuple[dict, dict, "datafile.DataFile"]:
    """(raw, loaded, file) for a pushed data file: its receipt in wire form (with the XML
    signature as `signature`), the schema-loaded form, and the parsed file. Raises the
    refusal (a clear 4xx, never a 5xx) otherwise."""
    xml = decode(data)
    parsed = datafile.parse(xml, max_bytes=current_app.config["DATA_FILE_MAX_BYTES"])
    if datafile.SUPERVISOR in parsed.signatures or not parsed.seals[datafile.SUPERVISOR].empty:
        raise ValidationFailed("The finance seal and signature are the node's to add: push the file as the issuer sealed it.",
                               code="data_file_supervisor_present", title="数据文件中已有财政监制签章，应由平台加盖")
    raw = datafile.to_receipt(parsed)
    signature = parsed.signatures.get(datafile.INVOICING_PARTY)
    if signature is None:
        raise InvalidDataFileSignature("The data file carries no InvoicingPartySignature.")
    if not _sealed_by(issuer, parsed, signature):
        raise InvalidDataFileSignature("The issuer's XML signature does not verify against its registered keys.")
    raw["signature"] = {"alg": signature.alg, "value": "".join(signature.value.split())}
    try:
        loaded = _SCHEMA.load(raw)
    except ValidationError as exc:
        raise ValidationFailed("The data file's elements do not make a valid receipt.", code="data_file_invalid_value",
                               errors=_schema_errors(exc.messages))
    return raw, loaded, parsed


def _sealed_by(issuer, parsed, signature) -> bool:
    """Whether one of the issuer's valid keys of the signature's algorithm made it; the
    signed bytes are canonicalised once, however many keys a rotation leaves valid."""
    keys = [key for key in valid_public_keys(issuer) if key.alg == signature.alg]
    if not keys:
        return False
    message = datafile.signed_bytes(parsed, datafile.INVOICING_PARTY)
    for key in keys:
        try:
            if datafile.verify_value(signature.alg, key.public_key_pem, message, signature.value):
                return True
        except (ValueError, TypeError):  # a stored key that does not load verifies nothing
            continue
    return False


def _seal(signer) -> dict:
    """The node's seal (the same for every file it seals), computed once per signer."""
    cached = getattr(signer, "_data_file_seal", None)
    if cached is None:
        cached = {"id": signer.kid[:64], "name": f"{current_app.config['NODE_PROVINCE']}{SEAL_NAME}",
                  "hash": sha256_hex(signing.canonical_bytes(signer.public_jwk))}
        signer._data_file_seal = cached
    return cached


def supervise(xml) -> bytes:
    """The file with the finance department's seal filled and its signature added."""
    signer = signing.platform_signer()
    return datafile.fill_supervisor_seal_and_sign(xml, signer.alg, signer.private_key, _seal(signer), serial=signer.kid[:64])


def store_pushed(rows: list[tuple[int, "datafile.DataFile"]]) -> None:
    """Keeps each pushed file (receipt id, parsed file) unchanged and completed. Caller commits."""
    if rows:
        db.session.execute(_INSERT, [dict(receipt_id=receipt_id, source="issuer", original=parsed.raw, original_sha256=parsed.sha256,
                                          complete=supervise(parsed)) for receipt_id, parsed in rows])


class DataFileElsewhere(NotFound):
    code = "data_file_at_issuing_node"
    title = "该票据的数据文件由开票地节点保存"


def file_of(key: str) -> bytes:
    """The complete data file of a receipt the caller may see (the caller checked that)."""
    from backend.receipts.presenters import wire_form
    from backend.receipts.services import find_by_key

    receipt = find_by_key(key)
    if receipt is None:
        raise NotFound(f"No receipt {key}.", code="receipt_not_found", title="未找到该票据")
    if receipt.synced_at is not None:
        from backend.federation import enabled, forward

        if not enabled(current_app):
            raise DataFileElsewhere(f"Receipt {key} was issued in province {receipt.province}; its node keeps the data file.")
        return forward.data_file(receipt)  # kept by its issuing node, asked each time
    return complete_file(receipt, wire_form(receipt, reveal_payer_id=True))


def complete_file(receipt: Receipt, wire_form: dict) -> bytes:
    """The receipt's complete data file. `wire_form`: its elements with the payer's ID
    number (generation needs it). Generated and kept on first request for JSON pushes."""
    stored = db.session.scalar(select(ReceiptDataFile.complete).where(ReceiptDataFile.receipt_id == receipt.id))
    if stored is not None:
        return bytes(stored)
    elements = {k: v for k, v in wire_form.items() if k not in signing.SIGNATURE_FIELDS}
    xml = supervise(datafile.from_receipt(elements, header_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"piaojia:{receipt.key}"))))
    try:
        db.session.execute(_INSERT, dict(receipt_id=receipt.id, source="generated", original=None, original_sha256=None, complete=xml))
        db.session.commit()
    except IntegrityError:  # generated by a concurrent request a moment ago: that one stands
        db.session.rollback()
        return bytes(db.session.scalar(select(ReceiptDataFile.complete).where(ReceiptDataFile.receipt_id == receipt.id)))
    log.info("data file generated for a receipt pushed as JSON", extra={"receipt_key": receipt.key})
    return xml
