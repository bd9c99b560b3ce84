"""Layout files of this node's receipts (DESIGN §10): signed by the node, verified by anyone.

The node signs with its supervision key (PLATFORM_SIGNING_KEY, P-256) under the certificate in
LAYOUT_CERT (PEM or path), or a deterministic self-signed one; it publishes that certificate at
`GET /api/v1/platform/layout-cert.pem`. Verification checks the signature, that it covers the
whole file, that the certificate is this node's, reads the elements back and compares them with
the stored receipt, and reports the receipt's live status.

Only a valid file — the node's own signature over all of it — is read beyond its signatures
and compared: its elements are the node's, so comparing them tells its holder nothing they
could not read off the file. Any other file is answered as not authentic and nothing more
(comparing a home-made file's elements with the record, or showing the status of the
receipt it names, would answer check-code guesses for free).

The printed QR's page (`/v/{key}?c=`) proves the check code like every other proof of
possession (backend.reimbursements.proof): wrong guesses are counted and limited.

A valid file, and the QR's page with the right check code, count as checks of the receipt
(查验次数, backend.verification.checks); anything else counts nothing.
"""
import logging

from flask import current_app, request
from sqlalchemy import select

from backend.common.crypto import pem_bytes
from backend.common.errors import DomainError
from backend.extensions import db
from backend.layout import LayoutError, NodeSigner, render_receipt_pdf, verify_layout
from backend.receipts.models import Receipt
from backend.receipts.presenters import status_fields
from backend.reimbursements import proof
from backend.verification import checks

log = logging.getLogger(__name__)
COMPARED = ("code", "number", "check_code", "issue_date", "total_amount", "issuer_name")


class LayoutRefused(DomainError):
    status = 422
    code = "layout_refused"
    title = "版式文件无法查验"


def signer() -> NodeSigner:
    cached = current_app.extensions.get("piaojia_layout_signer")
    if cached is None:
        cfg = current_app.config
        cert = pem_bytes(cfg["LAYOUT_CERT"]) if cfg.get("LAYOUT_CERT") else None
        cached = NodeSigner(pem_bytes(cfg["PLATFORM_SIGNING_KEY"]), cert, common_name=f"Piaojia node {cfg['NODE_PROVINCE']}")
        current_app.extensions["piaojia_layout_signer"] = cached
    return cached


def verify_url(key: str, check_code: str) -> str:
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    return f"{base.rstrip('/')}/v/{key}?c={check_code}"


def signed_layout(answer: dict) -> bytes:
    """The signed layout file of a receipt answer (a citizen's or a unit's view of it),
    rendered from the elements its data file states (DESIGN §11: the layout file is a
    rendering of the data file)."""
    answer = _as_its_data_file_states(answer)
    return signer().sign(render_receipt_pdf(answer, verify_url(answer["key"], answer["check_code"])))


def _as_its_data_file_states(answer: dict) -> dict:
    """The answer with the receipt's elements read back from its complete data file; the
    payer stays the answer's own view (masked for a unit). A receipt without a file here (a
    synced copy of another province's) is rendered from the answer."""
    from backend import datafile
    from backend.receipts.data_files import file_of

    try:
        xml = file_of(answer["key"])
        stated = datafile.to_receipt(datafile.parse(xml, max_bytes=max(len(xml), current_app.config["DATA_FILE_MAX_BYTES"])))
    except DomainError as exc:
        log.info("layout rendered from the receipt answer", extra={"receipt_key": answer["key"], "reason": exc.code})
        return answer
    stated.pop("payer", None)
    return {**answer, **stated}


def check(data: bytes) -> dict:
    """What a layout file says and whether it is ours and unchanged, against the live receipt."""
    try:
        found = verify_layout(data, [signer().cert_pem], max_bytes=current_app.config["LAYOUT_MAX_BYTES"],
                              read_untrusted=False)
    except LayoutError as exc:
        log.info("layout file refused", extra={"layout_code": exc.code})
        status = 413 if exc.code == "too_large" else 422
        raise LayoutRefused(str(exc), code=f"layout_{exc.code}", status=status)
    answer = {"valid": found["valid"], "signed": found["signed"], "intact": found["intact"], "trusted": found["trusted"],
              "coverage": found["coverage"], "signer": found.get("signer"), "signed_at": found.get("signed_at"),
              "key": None, "elements": {}, "matches_record": False, "mismatches": [], "display_status": None, "lifecycle": None,
              "check_count": None, "last_checked_at": None}
    if not found["valid"]:
        return answer
    elements = found.get("elements") or {}
    answer["key"] = found.get("key")
    answer["elements"] = {k: v for k, v in elements.items() if k != "payer_id_number"}
    key = found.get("key") or ""
    code, _, number = key.partition("-")
    receipt = db.session.scalar(select(Receipt).where(Receipt.code == code, Receipt.number == number)) if number else None
    if receipt is None:
        answer["mismatches"] = ["key"]
        return answer
    stored = {"code": receipt.code, "number": receipt.number, "check_code": receipt.check_code,
              "issue_date": receipt.issue_date.isoformat(), "total_amount": receipt.elements["total_amount"],
              "issuer_name": receipt.elements["issuer"]["name"]}
    answer["mismatches"] = [name for name in COMPARED if elements.get(name) != stored[name]]
    answer["matches_record"] = not answer["mismatches"]
    status = status_fields(receipt)
    answer["display_status"], answer["lifecycle"] = status["display_status"], status["lifecycle"]
    # A valid file of this node names its receipt: a check of it (查验次数).
    return {**answer, **checks.answer_fields(checks.record_check(receipt.id, checks.LAYOUT))}


def public_status(key: str, check_code: str) -> dict | None:
    """For the page a printed layout file's QR opens: authentic, live status and check count
    (this visit included), nothing personal; None when the key and check code do not match a receipt of this node. A wrong
    check code counts against the caller like any proof of possession (429 once over a limit:
    attempts.TooManyAttempts)."""
    code, _, number = (key or "").partition("-")
    receipt = db.session.scalar(select(Receipt).where(Receipt.code == code, Receipt.number == number)) if number else None
    # The QR carries the key and the check code but not the amount: the receipt's own total
    # stands in, so only the check code is proved — with the same counts as POST /verify.
    total = receipt.elements["total_amount"] if receipt is not None else None
    if not proof.prove(receipt, check_code or "", total):
        return None
    status = status_fields(receipt)
    found = {"key": receipt.key, "title": receipt.elements.get("title"), "issuer": receipt.elements["issuer"]["name"],
             "issue_date": receipt.issue_date.isoformat(), "total_amount": receipt.elements["total_amount"],
             "display_status": status["display_status"], "remaining_amount": status["remaining_amount"]}
    count, last = checks.record_check(receipt.id, checks.QR_PAGE)
    return {**found, "check_count": count, "last_checked_at": last}
