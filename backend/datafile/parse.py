"""Reading a data file: hardened XML parsing, then the §11 shape.

Nothing in the file is trusted: the size is checked before any parsing; lxml runs with
entities unresolved, no DTD loaded, no network and libxml2's default limits; any DOCTYPE,
entity, processing instruction (other than the XML declaration), namespace, attribute,
unknown or repeated element, text out of place or value of the wrong form is refused with
a `DataFileInvalid` naming the element's path. Comments are dropped: they are no part of the
canonical form either.
"""
import hashlib
from dataclasses import dataclass, field

from lxml import etree

from backend.datafile.errors import DataFileInvalid
from backend.datafile.shape import EINVOICE, Group, Leaf

MAX_BYTES = 1_048_576
MAX_DEPTH = 32
XML_WHITESPACE = " \t\r\n"

INVOICING_PARTY = "invoicing_party"
SUPERVISOR = "supervisor"
PARTIES = {INVOICING_PARTY: ("InvoicingPartySignature", "InvoicingPartySeal"),
           SUPERVISOR: ("SupervisorPartySignature", "SupervisorPartySeal")}


@dataclass(frozen=True)
class Signature:
    alg: str
    signed_at: str
    serial: str
    value: str


@dataclass(frozen=True)
class Seal:
    id: str
    name: str
    hash: str

    @property
    def empty(self) -> bool:
        return not (self.id or self.name or self.hash)


@dataclass(frozen=True, eq=False)
class DataFile:
    """A parsed data file. `raw`: the bytes as given (the legal original); `elements`: the
    file's content as nested dicts by element name — a text element's text ("" when empty),
    a repeated element (`Item`, `AuxItem`) a list; an absent optional element is no key."""

    raw: bytes
    elements: dict
    root: etree._Element = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def main(self) -> dict:
        return self.elements["EInvoiceData"]["Main"]

    @property
    def key(self) -> str:
        return f"{self.main['EInvoiceCode']}-{self.main['EInvoiceNumber']}"

    @property
    def signatures(self) -> dict[str, Signature]:
        """The signatures present, by party (`invoicing_party`, `supervisor`)."""
        block = self.elements.get("EInvoiceSignature", {})
        out = {}
        for party, (element, _) in PARTIES.items():
            if element in block:
                s = block[element]
                out[party] = Signature(s.get("SignatureAlgorithm", ""), s.get("SignatureTime", ""), s.get("SerialNumber", ""),
                                       s.get("SignatureValue", ""))
        return out

    @property
    def seals(self) -> dict[str, Seal]:
        return {party: Seal(self.main[element].get("SealId", ""), self.main[element].get("SealName", ""),
                            self.main[element].get("SealHash", ""))
                for party, (_, element) in PARTIES.items()}


def _refuse(code, detail, path=None):
    raise DataFileInvalid(code, detail, path=path)


def _blank(text) -> bool:
    return text is None or text.strip(XML_WHITESPACE) == ""


def _parser() -> etree.XMLParser:
    # One per call: lxml parsers are not to be shared between threads.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=False, strip_cdata=True,
                           attribute_defaults=False, collect_ids=False, recover=False)


def _read_xml(data: bytes) -> etree._Element:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        _refuse("data_file_dtd_forbidden", "a data file has no DOCTYPE, DTD or entity declaration")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        if "Excessive depth" in str(exc):
            _refuse("data_file_too_deep", "elements are nested too deeply")
        if "Entity '" in str(exc) and "not defined" in str(exc):
            _refuse("data_file_dtd_forbidden", "a data file uses no entities but the predefined ones")
        _refuse("data_file_malformed", f"not well-formed XML ({exc.msg})" if getattr(exc, "msg", None) else "not well-formed XML")
    except (ValueError, TypeError) as exc:  # lxml's refusals of some inputs before libxml2 sees them
        _refuse("data_file_malformed", f"not well-formed XML ({exc})")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        _refuse("data_file_dtd_forbidden", "a data file has no DOCTYPE, DTD or entity declaration")
    if (docinfo.encoding or "UTF-8").upper().replace("_", "-") not in ("UTF-8", "UTF8"):
        _refuse("data_file_malformed", "a data file is UTF-8")
    for sibling in (*root.itersiblings(preceding=True), *root.itersiblings()):
        if isinstance(sibling, etree._ProcessingInstruction):
            _refuse("data_file_unexpected_content", "no processing instruction but the XML declaration")
    return root


def _name(node) -> str:
    if not isinstance(node.tag, str):
        return "?"
    return etree.QName(node).localname if node.tag.startswith("{") else node.tag


def _check_nodes(root: etree._Element, max_depth: int) -> None:
    """Depth, node kinds, namespaces and attributes of every node, before the shape."""
    stack = [(root, f"/{_name(root)}", 1)]
    while stack:
        node, path, depth = stack.pop()
        if depth > max_depth:
            _refuse("data_file_too_deep", f"elements are nested more than {max_depth} deep", path)
        if isinstance(node, etree._Entity):
            _refuse("data_file_dtd_forbidden", "a data file uses no entities but the predefined ones", path)
        if isinstance(node, etree._ProcessingInstruction):
            _refuse("data_file_unexpected_content", "no processing instruction but the XML declaration", path)
        if not isinstance(node.tag, str):
            continue
        if node.tag.startswith("{") or node.nsmap:
            _refuse("data_file_wrong_namespace", "the data file's elements are in no namespace", path)
        if node.attrib:
            _refuse("data_file_unexpected_content", "elements of a data file have no attributes", path)
        for child in node:
            stack.append((child, f"{path}/{_name(child)}", depth + 1))


def _leaf(element, spec: Leaf, path: str) -> str:
    for child in element:
        _refuse("data_file_unknown_element", f"{spec.name} holds text, not elements", f"{path}/{child.tag}")
    text = element.text or ""
    problem = spec.problem(text)
    if problem:
        _refuse("data_file_invalid_value", problem, path)
    return text


def _group(element, spec: Group, path: str) -> dict:
    if not _blank(element.text):
        _refuse("data_file_unexpected_content", f"{spec.name} holds elements, not text", path)
    known = {c.name: c for c in spec.children}
    out, counts = {}, {}
    for child in element:
        child_path = f"{path}/{child.tag}"
        if not _blank(child.tail):
            _refuse("data_file_unexpected_content", f"{spec.name} holds elements, not text", path)
        child_spec = known.get(child.tag)
        if child_spec is None:
            _refuse("data_file_unknown_element", f"{spec.name} has no element {child.tag}", child_path)
        n = counts[child.tag] = counts.get(child.tag, 0) + 1
        repeated = isinstance(child_spec, Group) and child_spec.repeated
        if repeated:
            child_path += f"[{n}]"
            if n > child_spec.max_count:
                _refuse("data_file_too_many_elements", f"at most {child_spec.max_count} {child.tag} elements", child_path)
        elif n > 1:
            _refuse("data_file_duplicate_element", f"{child.tag} may appear once", child_path)
        value = _group(child, child_spec, child_path) if isinstance(child_spec, Group) else _leaf(child, child_spec, child_path)
        if repeated:
            out.setdefault(child.tag, []).append(value)
        else:
            out[child.tag] = value
    for child_spec in spec.children:
        if child_spec.required and child_spec.name not in out:
            _refuse("data_file_missing_element", f"{spec.name} needs {child_spec.name}", f"{path}/{child_spec.name}")
    return out


def parse(data: bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> DataFile:
    """The data file in `data` (the XML bytes), checked against DESIGN §11; `DataFileInvalid`
    otherwise (`data_file_too_large` before any parsing when `data` exceeds `max_bytes`)."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise TypeError("parse() takes the file's bytes")
    if len(data) > max_bytes:
        _refuse("data_file_too_large", f"a data file is at most {max_bytes} bytes")
    root = _read_xml(data)
    _check_nodes(root, max_depth)
    if root.tag != EINVOICE.name:
        _refuse("data_file_unknown_element", "the root element is EInvoice", f"/{root.tag}")
    return DataFile(raw=data, elements=_group(root, EINVOICE, "/EInvoice"), root=root)


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")
