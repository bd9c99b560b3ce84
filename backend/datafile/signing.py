"""Signatures of the data file (DESIGN §11).

Each party signs the W3C Canonical XML 2.0 form of `EInvoiceData` (Python's
`xml.etree.ElementTree.canonicalize(…, with_comments=False, strip_text=False)` of the
element as serialized from the document): the issuer (`invoicing_party`) with the three
children of `Main/SupervisorPartySeal` empty — checking it later empties them again —,
the node (`supervisor`) with the seal as stored. The value is the standard base64 of the
DER `SEQUENCE {r, s}`: SM2 with SM3 and signer id 1234567812345678 (GM/T 0009; the
arithmetic is backend.receipts.sm2's), or ES256 (ECDSA P-256 with SHA-256).

Verification never raises for what a file holds: a missing, unknown, mis-encoded or wrong
signature is `Verification(valid=False, reason=…)`. Only a file that is not a data file at
all raises (`DataFileInvalid`, from `parse`).
"""
import base64
import binascii
import copy
import functools
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from lxml import etree

from backend.datafile.parse import INVOICING_PARTY, PARTIES, SUPERVISOR, DataFile, parse, serialize
from backend.receipts import sm2

ALGORITHMS = ("SM2", "ES256")
BEIJING = timezone(timedelta(hours=8))
MAX_SERIAL = 128
SEAL_LIMITS = (("id", "SealId", 64), ("name", "SealName", 100), ("hash", "SealHash", 512))


@dataclass(frozen=True)
class Verification:
    """`valid`, the file's `SignatureAlgorithm` (None when the signature is missing) and,
    when not valid, why: `missing`, `unsupported_algorithm`, `algorithm_mismatch` (not the
    key's algorithm), `malformed_value` (not base64 of a DER SEQUENCE {r, s}), `unusable_key`
    or `mismatch` (the signature is not the key's over this content)."""

    valid: bool
    alg: str | None = None
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.valid


# --------------------------------------------------------------------- what is signed

def _party(party: str) -> str:
    if party not in PARTIES:
        raise ValueError(f"party is {INVOICING_PARTY!r} or {SUPERVISOR!r}, not {party!r}")
    return party


def _canonical(element) -> bytes:
    text = etree.tostring(element, encoding="unicode", with_tail=False)
    return ET.canonicalize(xml_data=text, with_comments=False, strip_text=False).encode("utf-8")


def _signed_bytes(root, party: str) -> bytes:
    data = root.find("EInvoiceData")
    if _party(party) == INVOICING_PARTY:
        data = copy.deepcopy(data)
        for child in data.find("Main/SupervisorPartySeal"):
            child.text = None
    return _canonical(data)


def _data_file(xml) -> DataFile:
    return xml if isinstance(xml, DataFile) else parse(xml)


def signed_bytes(xml, party: str) -> bytes:
    """The exact bytes `party` signs in this data file (bytes or a parsed DataFile)."""
    return _signed_bytes(_data_file(xml).root, party)


# --------------------------------------------------------------------- keys and values

def _es256_private(key):
    if isinstance(key, (str, bytes)):
        key = serialization.load_pem_private_key(key.encode() if isinstance(key, str) else key, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("an ES256 key is an EC P-256 private key")
    return key


@functools.lru_cache(maxsize=1024)
def _public_from_pem(alg: str, pem):
    """Registered keys are PEM text, the same few again and again: read once."""
    if alg == "SM2":
        return sm2.load_public_key(pem)
    return serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)


def _sm2_public(key):
    return _public_from_pem("SM2", key) if isinstance(key, (str, bytes)) else sm2.load_public_key(key)


def _es256_public(key):
    if isinstance(key, (str, bytes)):
        key = _public_from_pem("ES256", key)
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("an ES256 key is an EC P-256 public key")
    return key


def key_algorithm(public_key) -> str:
    """`SM2` for a key on the SM2 curve (PEM, hex or sm2.SM2PublicKey), else `ES256`."""
    if isinstance(public_key, sm2.SM2PublicKey):
        return "SM2"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "ES256"
    try:
        _sm2_public(public_key)
    except (ValueError, TypeError, AttributeError):
        return "ES256"
    return "SM2"


def sign_value(alg: str, private_key, message: bytes) -> str:
    """base64 of the DER signature of `message`; SM2 keys as backend.receipts.sm2 reads them
    (PEM PKCS#8 or SM2PrivateKey), ES256 keys as PEM or a `cryptography` P-256 key."""
    if alg == "SM2":
        raw = sm2.sign(private_key, message)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    elif alg == "ES256":
        der = _es256_private(private_key).sign(message, ec.ECDSA(hashes.SHA256()))
    else:
        raise ValueError(f"SignatureAlgorithm is one of {', '.join(ALGORITHMS)}, not {alg!r}")
    return base64.b64encode(der).decode("ascii")


def _der(value: str) -> tuple[int, int] | None:
    """(r, s) of base64 text of a DER SEQUENCE {r, s} in its one canonical encoding; None
    for anything else. Line breaks and spaces in the base64 are allowed."""
    try:
        der = base64.b64decode("".join(value.split()), validate=True)
        r, s = decode_dss_signature(der)
    except (binascii.Error, ValueError, TypeError):
        return None
    if r <= 0 or s <= 0 or encode_dss_signature(r, s) != der:
        return None
    return r, s


def verify_value(alg: str, public_key, message: bytes, value: str) -> bool:
    """Whether `value` (base64 DER) is `public_key`'s `alg` signature of `message`; False for
    any malformed value. Raises ValueError for an unusable key."""
    rs = _der(value)
    if rs is None:
        return False
    r, s = rs
    if alg == "SM2":
        if r >= sm2.N or s >= sm2.N:
            return False
        return sm2.verify(_sm2_public(public_key), message, r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    if alg == "ES256":
        try:
            _es256_public(public_key).verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True
    raise ValueError(f"SignatureAlgorithm is one of {', '.join(ALGORITHMS)}, not {alg!r}")


# --------------------------------------------------------------------- writing signatures

def _time(signed_at: datetime | None) -> str:
    moment = signed_at or datetime.now(timezone.utc)
    if moment.tzinfo is None:
        raise ValueError("signed_at needs a time zone")
    return moment.astimezone(BEIJING).isoformat(timespec="seconds")


def _editable(xml):
    """A tree of the file that may be changed without touching the caller's DataFile."""
    return copy.deepcopy(xml.root) if isinstance(xml, DataFile) else parse(xml).root


def _set_signature(root, party: str, alg: str, value: str, serial: str, signed_at: datetime | None) -> None:
    if alg not in ALGORITHMS:
        raise ValueError(f"SignatureAlgorithm is one of {', '.join(ALGORITHMS)}, not {alg!r}")
    if not isinstance(serial, str) or len(serial) > MAX_SERIAL:
        raise ValueError(f"the serial number is a string of at most {MAX_SERIAL} characters")
    indented = root.text is not None and "\n" in root.text
    block = root.find("EInvoiceSignature")
    if block is None:
        previous = root[-1]
        block = etree.SubElement(root, "EInvoiceSignature")
        block.tail, previous.tail = previous.tail, root.text
    element = etree.Element(PARTIES[_party(party)][0])
    for name, text in (("SignatureAlgorithm", alg), ("SignatureTime", _time(signed_at)), ("SerialNumber", serial),
                       ("SignatureValue", value)):
        etree.SubElement(element, name).text = text or None
    old = block.find(element.tag)
    if old is not None:
        block.replace(old, element)
    elif party == INVOICING_PARTY:
        block.insert(0, element)
    else:
        block.append(element)
    if indented:
        etree.indent(block, space="  ", level=1)


def add_signature(xml, party: str, *, alg: str, value: str, serial: str = "", signed_at: datetime | None = None) -> bytes:
    """The file with `party`'s signature element set to a value made elsewhere (replacing
    one there was), e.g. a JSON-pushed receipt's issuer signature converted to DER."""
    root = _editable(xml)
    _set_signature(root, party, alg, value, serial, signed_at)
    return serialize(root)


def sign_invoicing_party(xml, alg: str, private_key, serial: str = "", signed_at: datetime | None = None) -> bytes:
    """The issuer's side: the file with `InvoicingPartySignature` over EInvoiceData (its
    supervisor seal emptied), replacing one there was."""
    root = _editable(xml)
    value = sign_value(alg, private_key, _signed_bytes(root, INVOICING_PARTY))
    _set_signature(root, INVOICING_PARTY, alg, value, serial, signed_at)
    return serialize(root)


def fill_supervisor_seal_and_sign(xml, alg: str, private_key, seal: dict, serial: str = "",
                                  signed_at: datetime | None = None) -> bytes:
    """The node's side: the file with `SupervisorPartySeal` filled from `seal`
    ({"id", "name", "hash"}) and `SupervisorPartySignature` over EInvoiceData as it then
    is, after the issuer's signature. Check the issuer's signature first: this does not."""
    root = _editable(xml)
    element = root.find("EInvoiceData/Main/SupervisorPartySeal")
    for key, name, limit in SEAL_LIMITS:
        text = seal.get(key, "")
        if not isinstance(text, str) or len(text) > limit:
            raise ValueError(f"seal {key} is a string of at most {limit} characters")
        element.find(name).text = text or None
    value = sign_value(alg, private_key, _signed_bytes(root, SUPERVISOR))
    _set_signature(root, SUPERVISOR, alg, value, serial, signed_at)
    return serialize(root)


# --------------------------------------------------------------------- checking

def verify(xml, party: str, public_key, *, alg: str | None = None) -> Verification:
    """Checks `party`'s signature in the data file (bytes or DataFile) with `public_key`
    (PEM, or a key object), whose algorithm is `alg` or, when None, told by the key.
    Raises DataFileInvalid only for a file `parse` refuses."""
    data_file = _data_file(xml)
    signature = data_file.signatures.get(_party(party))
    if signature is None:
        return Verification(False, None, "missing")
    if signature.alg not in ALGORITHMS:
        return Verification(False, signature.alg, "unsupported_algorithm")
    if signature.alg != (alg or key_algorithm(public_key)):
        return Verification(False, signature.alg, "algorithm_mismatch")
    if _der(signature.value) is None:
        return Verification(False, signature.alg, "malformed_value")
    try:
        ok = verify_value(signature.alg, public_key, _signed_bytes(data_file.root, party), signature.value)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return Verification(False, signature.alg, "unusable_key")
    return Verification(ok, signature.alg, None if ok else "mismatch")
