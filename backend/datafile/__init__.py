"""The national data file (数据文件, DESIGN §11): read, map, write, sign and check it.

A pure library: no Flask request, no database; keys and settings come in as arguments.
docs/data-file.md has the element mapping table and the rules.

Reading (`parse.py`)
    parse(data: bytes, *, max_bytes=MAX_BYTES, max_depth=MAX_DEPTH) -> DataFile
        Hardened: over `max_bytes` refused before parsing; lxml with entities unresolved,
        no DTD, no network; DOCTYPE, entities, processing instructions, namespaces,
        attributes, unknown/duplicate/missing elements, stray text and values of the wrong
        form refused. Raises DataFileInvalid.
    DataFile: .raw (the bytes as given), .sha256 (hex), .key ("{code}-{number}"),
        .elements (nested dicts by element name), .main, .signatures ({party: Signature
        (alg, signed_at, serial, value)}), .seals ({party: Seal(id, name, hash), .empty}).
    INVOICING_PARTY = "invoicing_party", SUPERVISOR = "supervisor": the two parties.

Mapping (`mapping.py`)
    to_receipt(data_file) -> dict: the §2 wire-form receipt, without `signature`; check it
        with ReceiptWireSchema and rules.check_receipt as any pushed receipt. May raise
        DataFileInvalid (data_file_invalid_value) for elements that contradict each other.
    from_receipt(receipt, *, header_id, tag=None, version="1.0", specimen_code=None,
        area_code=None) -> bytes: the data file of a wire-form receipt (`payer.id_number`
        needed), seals and signatures empty. Raises ReceiptNotExpressible.
    normalize_receipt(receipt) -> dict: the receipt as its data file gives it back; compare
        with to_receipt() of a file.
    element_path(field) -> str | None: "items[0].amount" →
        "/EInvoice/EInvoiceData/Details/Item[1]/ItemAmount", for rule violations.

Signing (`signing.py`); `xml` is the file's bytes or a DataFile, results are new bytes
    signed_bytes(xml, party) -> bytes: what `party` signs (Canonical XML 2.0 of EInvoiceData).
    sign_invoicing_party(xml, alg, private_key, serial="", signed_at=None) -> bytes
    fill_supervisor_seal_and_sign(xml, alg, private_key, seal={"id","name","hash"},
        serial="", signed_at=None) -> bytes
    add_signature(xml, party, *, alg, value, serial="", signed_at=None) -> bytes
    verify(xml, party, public_key, *, alg=None) -> Verification(valid, alg, reason)
        never raises for a bad signature; reasons: missing, unsupported_algorithm,
        algorithm_mismatch, malformed_value, unusable_key, mismatch.
    sign_value / verify_value(alg, key, message[, value]): base64 DER values alone.
    `alg` is "SM2" (SM2 with SM3, signer id 1234567812345678) or "ES256"; SM2 keys as
    backend.receipts.sm2 reads them (PEM), ES256 keys as PEM or `cryptography` keys.

Errors (`errors.py`), both DomainError with a Chinese title:
    DataFileInvalid(code, detail, path=...): 422 (413 for data_file_too_large); `.path` and
        extra {"path"} name the element. Codes: data_file_too_large, data_file_malformed,
        data_file_dtd_forbidden, data_file_too_deep, data_file_wrong_namespace,
        data_file_unknown_element, data_file_duplicate_element, data_file_too_many_elements,
        data_file_missing_element, data_file_unexpected_content, data_file_invalid_value.
    ReceiptNotExpressible: 422 receipt_not_expressible_as_data_file, extra {"field"}.
"""
from backend.datafile.errors import DataFileInvalid, ReceiptNotExpressible
from backend.datafile.mapping import element_path, from_receipt, normalize_receipt, to_receipt
from backend.datafile.parse import INVOICING_PARTY, MAX_BYTES, MAX_DEPTH, SUPERVISOR, DataFile, Seal, Signature, parse
from backend.datafile.signing import (
    ALGORITHMS,
    Verification,
    add_signature,
    fill_supervisor_seal_and_sign,
    key_algorithm,
    sign_invoicing_party,
    sign_value,
    signed_bytes,
    verify,
    verify_value,
)

__all__ = [
    "ALGORITHMS", "INVOICING_PARTY", "MAX_BYTES", "MAX_DEPTH", "SUPERVISOR", "DataFile", "DataFileInvalid",
    "ReceiptNotExpressible", "Seal", "Signature", "Verification", "add_signature", "element_path",
    "fill_supervisor_seal_and_sign", "from_receipt", "key_algorithm", "normalize_receipt", "parse",
    "sign_invoicing_party", "sign_value", "signed_bytes", "to_receipt", "verify", "verify_value",
]
