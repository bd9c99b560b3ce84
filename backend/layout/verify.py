"""Checking a layout file (版式文件) that someone hands us.

`verify_layout(pdf, trusted_cert_pems)` refuses what is not a whole, reasonably sized PDF
(LayoutError), validates its PAdES signatures with pyHanko against the given certificates
only (no network fetching), and reads the receipt's elements back from the first page's text
with pypdf.

Anyone can hand us a file, so the work per file is bounded: no stream is decoded beyond
MAX_STREAM_BYTES, no file beyond MAX_DECODED_BYTES in all, the page is parsed once and at most
MAX_CONTENT_TOKENS deep; a file that needs more is refused (LayoutError "too_complex"). A
node's own layout file decodes to about 32 KB a page. With `read_untrusted=False` nothing but
the signatures is read from a file that is not `valid`.

The answer describes the last signature, the only one that can cover the whole file. The
elements, key and digest are read from the revision that this signature covers, never from
what was appended after it, so an incremental update cannot change what the answer reports
(it shows up as `coverage` other than `entire_file`). A file is good when `valid` is true:
signed, intact, trusted and covering the entire file.
"""
import io
import logging
import re

from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.decode_limits import DecodeLimits, DocumentDecodeBudget, StreamDecodeLimits
from pyhanko.pdf_utils.misc import PdfDecodeLimitError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader, apply_configuration
from pypdf.errors import LimitReachedError

from backend.layout import render

log = logging.getLogger(__name__)

MAX_BYTES = 2_000_000
MAX_SIGNATURES = 4
TAIL = 1024  # a PDF ends with %%EOF within its last bytes
MAX_STREAM_BYTES = 1 << 20  # decoded size of any one stream
MAX_DECODED_BYTES = 8 << 20  # decoded bytes of one file, all streams together
MAX_CONTENT_TOKENS = 200_000  # operands and operators of the page read for its text

# pyHanko reads the signatures, pypdf the page: both under the bounds above.
DECODE_LIMITS = DecodeLimits(
    per_stream=StreamDecodeLimits(max_output_size=MAX_STREAM_BYTES),
    document_budget=DocumentDecodeBudget(base_allowance=MAX_DECODED_BYTES, max_ratio=0),
)
READ_LIMITS = {
    "zlib_maximum_output_length": MAX_STREAM_BYTES, "lzw_maximum_output_length": MAX_STREAM_BYTES,
    "run_length_maximum_output_length": MAX_STREAM_BYTES, "jbig2_maximum_output_length": MAX_STREAM_BYTES,
    "brotli_maximum_output_length": MAX_STREAM_BYTES, "array_based_stream_maximum_output_length": MAX_STREAM_BYTES,
    "image_maximum_buffer_size": MAX_STREAM_BYTES, "xmp_maximum_input_length": MAX_STREAM_BYTES,
    "stream_decoding_work_maximum_length": 4 * MAX_STREAM_BYTES,
    "stream_parsing_work_maximum_count": MAX_CONTENT_TOKENS, "xform_maximum_invocations_per_extraction": 16,
}
LIMIT_ERRORS = (PdfDecodeLimitError, LimitReachedError)

# Each element: the labels it may be drawn after, and what its value looks like.
ELEMENT_PATTERNS = {
    "code": ((render.LABEL_CODE,), r"[0-9]{8}"),
    "number": ((render.LABEL_NUMBER,), r"[0-9]{10}"),
    "check_code": ((render.LABEL_CHECK_CODE,), r"[A-Za-z0-9]{6}"),
    "issue_date": ((render.LABEL_ISSUE_DATE,), r"[0-9]{4}-[0-9]{2}-[0-9]{2}"),
    "total_amount": ((render.LABEL_TOTAL_FIGURES, "（小写）¥"), r"-?[0-9]+\.[0-9]{2}"),
    "total_amount_capital": ((render.LABEL_TOTAL_CAPITAL,), r"\S+"),
    "payer_name": ((render.LABEL_PAYER,), r".+"),
    "payer_id_number": ((render.LABEL_PAYER_ID,), r"\S+"),
    "issuer_name": ((render.LABEL_ISSUER,), r".+"),
    "issuer_credit_code": ((render.LABEL_CREDIT_CODE,), r"[0-9A-Z]{18}"),
}
COVERAGE_NAMES = {
    "ENTIRE_FILE": "entire_file", "ENTIRE_REVISION": "entire_revision",
    "CONTIGUOUS_BLOCK_FROM_START": "contiguous_block", "UNCLEAR": "unclear",
}
KEY_PATTERN = re.compile(r"^[0-9]{8}-[0-9]{10}$")


class LayoutError(Exception):
    """A file we refuse to look at. `code`: not_a_pdf, too_large, truncated, malformed,
    encrypted, unsigned, bad_signature, too_many_signatures, too_complex."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def load_trusted_certs(trusted_cert_pems) -> list:
    certs = []
    for value in trusted_cert_pems:
        data = value.encode("ascii") if isinstance(value, str) else bytes(value)
        if asn1_pem.detect(data):
            for _, _, der in asn1_pem.unarmor(data, multiple=True):
                certs.append(asn1_x509.Certificate.load(der))
        else:
            certs.append(asn1_x509.Certificate.load(data))
    return certs


def verify_layout(pdf: bytes, trusted_cert_pems, max_bytes: int = MAX_BYTES, *, require_signature: bool = True,
                  read_untrusted: bool = True) -> dict:
    """See the module docstring. Returns

        {"signed", "intact", "trusted", "valid": bool, "coverage": "entire_file" |
         "entire_revision" | "contiguous_block" | "unclear" | None, "modification": str | None,
         "signer": CN | None, "signer_fingerprint": sha256 hex | None, "signed_at": ISO | None,
         "key", "digest", "lifecycle": from the metadata (None if absent),
         "banner": "已冲红" | "已换开纸质票据" | "已作废" | None (the banner printed on the page),
         "elements": {code, number, check_code, issue_date, total_amount, total_amount_capital,
                      payer_name, payer_id_number, issuer_name, issuer_credit_code} (None when not found),
         "signatures": [{field, signer, signer_fingerprint, signed_at, intact, valid, trusted,
                         coverage, modification, revision_end, problem}] in file order}

    With `require_signature=False` an unsigned PDF is answered with signed false instead
    of LayoutError("unsigned"). With `read_untrusted=False` the metadata and the page of a
    file that is not valid are not read (key … elements all None)."""
    if not isinstance(pdf, (bytes, bytearray, memoryview)):
        raise TypeError("pdf must be bytes")
    pdf = bytes(pdf)
    if len(pdf) > max_bytes:
        raise LayoutError("too_large", f"The file is {len(pdf)} bytes; at most {max_bytes} are accepted.")
    if not pdf.startswith(b"%PDF-"):
        raise LayoutError("not_a_pdf", "The file is not a PDF (it does not start with %PDF-).")
    if b"%%EOF" not in pdf[-TAIL:]:
        raise LayoutError("truncated", "The PDF is incomplete: it does not end with %%EOF.")
    try:
        return _verify(pdf, trusted_cert_pems, require_signature, read_untrusted)
    except LayoutError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a parser trips over in a hostile file is the file's fault
        if _hit_limit(exc):
            raise _too_complex(exc) from exc
        log.warning("layout file unreadable", extra={"error": type(exc).__name__})
        raise LayoutError("malformed", f"The PDF cannot be read: {type(exc).__name__}") from exc


def _verify(pdf: bytes, trusted_cert_pems, require_signature: bool, read_untrusted: bool) -> dict:
    try:
        reader = PdfFileReader(io.BytesIO(pdf), decode_limits=DECODE_LIMITS)
    except Exception as exc:  # pyHanko raises many kinds on broken files
        raise _refusal(exc, "malformed", f"The PDF cannot be read: {exc}") from exc
    try:
        encrypted = reader.encrypted
    except Exception as exc:  # an /Encrypt entry so broken that no security handler can be built from it
        raise _refusal(exc, "encrypted", "Encrypted PDFs are not accepted (and this one's encryption settings are broken).") from exc
    if encrypted:
        raise LayoutError("encrypted", "Encrypted PDFs are not accepted.")
    try:
        embedded = list(reader.embedded_signatures)
    except Exception as exc:
        raise _refusal(exc, "bad_signature", f"A signature in the PDF cannot be read: {exc}") from exc
    if len(embedded) > MAX_SIGNATURES:
        raise LayoutError("too_many_signatures", f"The PDF has {len(embedded)} signatures; at most {MAX_SIGNATURES} are accepted.")
    if not embedded and require_signature:
        raise LayoutError("unsigned", "The PDF carries no signature.")

    certs = load_trusted_certs(trusted_cert_pems)
    signatures = [_check_signature(sig, certs) for sig in embedded]
    signatures.sort(key=lambda s: s["revision_end"] or 0)
    final = signatures[-1] if signatures else None
    valid = bool(final and final["intact"] and final["trusted"] and final["coverage"] == "entire_file")

    content = pdf
    if final and final["revision_end"] and 0 < final["revision_end"] <= len(pdf):
        content = pdf[: final["revision_end"]]
    read = _read_layout(content) if valid or read_untrusted else _unread()

    return {
        "signed": final is not None,
        "intact": bool(final and final["intact"]),
        "trusted": bool(final and final["trusted"]),
        "valid": valid,
        "coverage": final["coverage"] if final else None,
        "modification": final["modification"] if final else None,
        "signer": final["signer"] if final else None,
        "signer_fingerprint": final["signer_fingerprint"] if final else None,
        "signed_at": final["signed_at"] if final else None,
        **read,
        "signatures": signatures,
    }


def _hit_limit(exc: BaseException | None) -> bool:
    """Whether a work bound stopped the parser, possibly under another library's exception."""
    seen = 0
    while exc is not None and seen < 16:
        if isinstance(exc, LIMIT_ERRORS):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _too_complex(exc: BaseException) -> LayoutError:
    log.info("layout file over the work bounds", extra={"error": type(exc).__name__})
    return LayoutError("too_complex", f"The PDF needs more work than a layout file does "
                                      f"(a stream decodes to over {MAX_STREAM_BYTES} bytes, the file to over "
                                      f"{MAX_DECODED_BYTES}, or the page has over {MAX_CONTENT_TOKENS} tokens).")


def _refusal(exc: BaseException, code: str, message: str) -> LayoutError:
    return _too_complex(exc) if _hit_limit(exc) else LayoutError(code, message)


class _NoTraceback(logging.Filter):
    """pyHanko logs a warning with a full traceback for every certificate it cannot trust,
    an expected outcome here (anyone can hand us a file): keep the one-line message only."""

    def filter(self, record):
        record.exc_info = None
        record.exc_text = None
        return True


logging.getLogger("pyhanko.sign.validation.generic_cms").addFilter(_NoTraceback())


def _check_signature(sig, certs) -> dict:
    byte_range = None
    try:
        byte_range = [int(x) for x in sig.byte_range]
    except Exception:  # noqa: BLE001, S110 - a malformed /ByteRange: no revision end, checked below
        pass
    answer = {
        "field": sig.field_name, "signer": None, "signer_fingerprint": None, "signed_at": None,
        "intact": False, "valid": False, "trusted": False, "coverage": None, "modification": None,
        "revision_end": byte_range[2] + byte_range[3] if byte_range and len(byte_range) == 4 else None,
        "problem": None,
    }
    try:
        cert = sig.signer_cert
        answer["signer"] = cert.subject.native.get("common_name")
        answer["signer_fingerprint"] = cert.sha256.hex()
    except Exception:  # noqa: BLE001, S110 - no readable certificate: the validation says why
        pass
    try:
        context = ValidationContext(trust_roots=certs, allow_fetching=False)
        usage = KeyUsageConstraints(key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False)
        status = validate_pdf_signature(sig, context, key_usage_settings=usage)
    except Exception as exc:  # noqa: BLE001 - a signature that cannot even be evaluated is not intact
        if _hit_limit(exc):
            raise
        answer["problem"] = f"{type(exc).__name__}: {exc}"
        return answer
    answer.update(
        intact=bool(status.intact), valid=bool(status.valid), trusted=bool(status.trusted),
        coverage=COVERAGE_NAMES.get(status.coverage.name, status.coverage.name.lower()) if status.coverage else None,
        modification=status.modification_level.name.lower() if status.modification_level is not None else None,
        signed_at=status.signer_reported_dt.isoformat() if status.signer_reported_dt else None,
    )
    if not status.trusted and status.intact and status.valid:
        answer["problem"] = "the signer's certificate is not among the trusted ones"
    elif not status.intact:
        answer["problem"] = "the signed bytes were changed"
    elif not status.valid:
        answer["problem"] = "the signature value does not match"
    return answer


def _unread() -> dict:
    return {"key": None, "digest": None, "lifecycle": None, "banner": None, "elements": dict.fromkeys(ELEMENT_PATTERNS)}


def _read_layout(pdf: bytes) -> dict:
    """Metadata and elements of a (signed revision of a) layout file; None where unreadable.
    The first page's text is extracted once, within READ_LIMITS."""
    answer = _unread()
    elements = answer["elements"]
    runs = []
    try:
        with apply_configuration(**READ_LIMITS):
            reader = PdfReader(io.BytesIO(pdf), strict=False)
            info = {name: str(value) for name, value in (reader.metadata or {}).items()
                    if name in ("/PiaojiaKey", "/Subject", "/PiaojiaDigest", "/PiaojiaLifecycle") and value is not None}
            text = reader.pages[0].extract_text(visitor_text=lambda text, *_: runs.append(text))
    except Exception as exc:  # noqa: BLE001 - unreadable text: the elements stay None
        if _hit_limit(exc):
            raise
        return answer
    lines = [line.strip() for run in runs for line in run.splitlines() if line.strip()]
    lines += [line.strip() for line in text.splitlines() if line.strip()]
    for name, (labels, pattern) in ELEMENT_PATTERNS.items():
        elements[name] = _find(lines, labels, pattern)
    for line in lines:
        if line.startswith(render.BANNER_PREFIX):
            answer["banner"] = line[len(render.BANNER_PREFIX):].split(" · ")[0].strip() or None
            break

    key = info.get("/PiaojiaKey")
    subject = info.get("/Subject")
    if not key and subject and KEY_PATTERN.match(subject):
        key = subject
    if not key and elements["code"] and elements["number"]:
        key = f"{elements['code']}-{elements['number']}"
    answer.update(key=key, digest=info.get("/PiaojiaDigest"), lifecycle=info.get("/PiaojiaLifecycle"))
    return answer


def _find(lines: list[str], labels, pattern: str) -> str | None:
    """The value after the first line that starts with one of `labels` (each element is drawn
    as one string, so a run of text is `label + value`); else a search in every line."""
    whole = re.compile(pattern)
    for line in lines:
        for label in labels:
            if line.startswith(label):
                match = whole.fullmatch(line[len(label):].strip())
                if match:
                    return match.group(0)
    for line in lines:
        for label in labels:
            index = line.find(label)
            if index >= 0:
                match = re.match(r"\s*(" + pattern + r")", line[index + len(label):])
                if match:
                    return match.group(1).strip()
    return None
