"""Data file ↔ receipt of DESIGN §2, one element to one field (table in docs/data-file.md).

`to_receipt` gives the wire form that `ReceiptWireSchema` and `rules.check_receipt` then
check like a JSON-pushed receipt (without `signature`: the file's signatures are XML ones).
`from_receipt` writes the data file of a wire-form receipt. What the XML cannot tell apart
is fixed here, so that `to_receipt(parse(from_receipt(r))) == normalize_receipt(r)`:

- an optional text element that is empty or absent is an absent field — except the
  items' text fields (`code`, `unit`, `remark`, and `category`, `specification` of detail
  items), which are always present, "" when empty, as in the §2 example;
- times are Beijing time: `issued_at` is answered with +08:00 and whole seconds;
- `PayerPartyType` 1 is a person whose `id_type` is `resident_id` unless the extension
  element `PayerPartyIdType` names another (`passport`, …); 2 is `organization`;
- `MedicalType` carries `visit.visit_type` (门诊 outpatient, 急诊 emergency, 体检
  physical_exam, 其他 other, 住院 inpatient) and with it `kind` (住院 ↔ inpatient).
"""
import re
from datetime import datetime, timedelta, timezone

from lxml import etree

from backend.datafile.errors import DataFileInvalid, ReceiptNotExpressible
from backend.datafile.parse import DataFile, parse
from backend.datafile.shape import MEDICAL_TYPES

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
MAIN = "/EInvoice/EInvoiceData/Main"
EXT = MAIN + "/MainExt"
DETAILS = "/EInvoice/EInvoiceData/Details"
AUX = "/EInvoice/EInvoiceData/AuxDetails"
MEDICAL_TYPE_OF = {visit_type: text for text, visit_type in MEDICAL_TYPES.items()}

# (receipt field, MainExt element) for the visit's text fields and dates.
VISIT_TEXT = (("department", "DepartmentName"), ("medical_record_no", "MedicalRecordNo"), ("inpatient_no", "HospitalNo"),
              ("insurance_type", "MedicalInsuranceType"), ("insurance_no", "MedicalInsuranceID"),
              ("institution_type", "MedicalInstitutionType"), ("gender", "Gender"))
VISIT_DATES = (("visit_date", "VisitDate"), ("admission_date", "InHospitalDate"), ("discharge_date", "OutHospitalDate"))
VISIT_NUMBERS = (("hospitalization_days", "HospitalDays"), ("age", "Age"))
PAYMENTS = (("fund_paid", "FundPayAmount"), ("account_paid", "AccountPayAmount"), ("cash_paid", "CashPayAmount"),
            ("other_paid", "OtherPayAmount"), ("self_pay", "OwnPayAmount"), ("self_expense", "SelfPayAmount"))
REQUIRED_PAYMENTS = ("fund_paid", "account_paid", "cash_paid", "other_paid")
ITEM = (("code", "ItemCode"), ("name", "ItemName"), ("quantity", "ItemQuantity"), ("unit", "ItemUnit"),
        ("rate", "ItemStd"), ("amount", "ItemAmount"), ("remark", "ItemRemark"))
DETAIL_ITEM = ITEM + (("category", "ItemCategory"), ("specification", "ItemSpec"))
ITEM_TEXT = ("code", "unit", "remark", "category", "specification")  # always answered, "" when empty

RECEIPT_FIELDS = {"code", "number", "check_code", "title", "kind", "issue_date", "issued_at", "issuer", "clerk", "checker",
                  "payer", "total_amount", "payments", "visit", "items", "detail_items", "remark"}
IGNORED_FIELDS = {"signature", "supervision_signature"}  # the XML carries its own signatures

# Receipt field → element path, for errors found on the mapped receipt (rules.Violation.field).
FIELD_PATHS = {
    "code": f"{MAIN}/EInvoiceCode", "number": f"{MAIN}/EInvoiceNumber", "check_code": f"{MAIN}/RandomNumber",
    "title": f"{MAIN}/EInvoiceName", "kind": f"{EXT}/MedicalType", "issue_date": f"{MAIN}/IssueDate",
    "issued_at": f"{MAIN}/IssueTime", "issuer": f"{MAIN}/InvoicingParty",
    "issuer.name": f"{MAIN}/InvoicingParty/InvoicingPartyName", "issuer.credit_code": f"{MAIN}/InvoicingParty/InvoicingPartyCode",
    "clerk": f"{MAIN}/HandlingPerson", "checker": f"{MAIN}/Checker", "remark": f"{MAIN}/Remark",
    "payer": f"{MAIN}/PayerParty", "payer.name": f"{MAIN}/PayerParty/PayerPartyName",
    "payer.id_number": f"{MAIN}/PayerParty/PayerPartyCode", "payer.id_type": f"{MAIN}/PayerParty/PayerPartyType",
    "total_amount": f"{MAIN}/TotalAmount", "payments": EXT, "visit": EXT, "visit.visit_type": f"{EXT}/MedicalType",
    "items": DETAILS, "detail_items": AUX,
    **{f"payments.{f}": f"{EXT}/{e}" for f, e in PAYMENTS},
    **{f"visit.{f}": f"{EXT}/{e}" for f, e in VISIT_TEXT + VISIT_DATES + VISIT_NUMBERS},
}
_INDEXED = re.compile(r"(items|detail_items)\[([0-9]+)\](?:\.([a-z_]+))?")


def element_path(field: str) -> str | None:
    """The element that carries a receipt field: `items[0].amount` →
    `/EInvoice/EInvoiceData/Details/Item[1]/ItemAmount`; None for a field the file lacks."""
    if field in FIELD_PATHS:
        return FIELD_PATHS[field]
    match = _INDEXED.fullmatch(field)
    if not match:
        return None
    group, index, name = match.groups()
    base = f"{DETAILS}/Item" if group == "items" else f"{AUX}/AuxItem"
    path = f"{base}[{int(index) + 1}]"
    if name is None:
        return path
    element = dict(ITEM if group == "items" else DETAIL_ITEM).get(name)
    return f"{path}/{element}" if element else None


# ------------------------------------------------------------------- file → receipt

def _iso(yyyymmdd: str) -> str:
    return f"{yyyymmdd[:4]}-{yyyymmdd[4:6]}-{yyyymmdd[6:]}"


def _put(target: dict, key: str, text: str | None) -> None:
    if text:
        target[key] = text


def _payer(party: dict) -> dict:
    id_type = party.get("PayerPartyIdType", "")
    if party["PayerPartyType"] == "2":
        if id_type:
            raise DataFileInvalid("data_file_invalid_value", "only a person (PayerPartyType 1) has an id type",
                                  path=f"{MAIN}/PayerParty/PayerPartyIdType")
        id_type = "organization"
    return {"name": party["PayerPartyName"], "id_type": id_type or "resident_id", "id_number": party["PayerPartyCode"]}


def _item(element: dict, fields) -> dict:
    item = {}
    for field, name in fields:
        text = element.get(name, "")
        if text or field in ITEM_TEXT:
            item[field] = text
    return item


def to_receipt(data_file: DataFile) -> dict:
    """The receipt (DESIGN §2 wire form, without `signature`) that the data file carries."""
    main = data_file.main
    ext = main["MainExt"]
    visit_type = MEDICAL_TYPES[ext["MedicalType"]]
    issue_date = _iso(main["IssueDate"])
    receipt = {
        "code": main["EInvoiceCode"], "number": main["EInvoiceNumber"], "check_code": main["RandomNumber"],
        "title": main["EInvoiceName"], "kind": "inpatient" if visit_type == "inpatient" else "outpatient",
        "issue_date": issue_date, "issued_at": f"{issue_date}T{main['IssueTime']}+08:00",
        "issuer": {"name": main["InvoicingParty"]["InvoicingPartyName"], "credit_code": main["InvoicingParty"]["InvoicingPartyCode"]},
    }
    _put(receipt, "clerk", main.get("HandlingPerson"))
    _put(receipt, "checker", main.get("Checker"))
    receipt["payer"] = _payer(main["PayerParty"])
    receipt["total_amount"] = main["TotalAmount"]
    receipt["payments"] = payments = {}
    for field, name in PAYMENTS:
        _put(payments, field, ext.get(name))
    receipt["visit"] = visit = {"visit_type": visit_type}
    for field, name in VISIT_DATES:
        _put(visit, field, _iso(ext[name]) if ext.get(name) else None)
    for field, name in VISIT_TEXT:
        _put(visit, field, ext.get(name))
    for field, name in VISIT_NUMBERS:
        if ext.get(name):
            visit[field] = int(ext[name])
    data = data_file.elements["EInvoiceData"]
    receipt["items"] = [_item(item, ITEM) for item in data["Details"]["Item"]]
    if "AuxDetails" in data:
        receipt["detail_items"] = [_item(item, DETAIL_ITEM) for item in data["AuxDetails"].get("AuxItem", [])]
    _put(receipt, "remark", main.get("Remark"))
    return receipt


# ------------------------------------------------------------------- receipt → file

def _need(mapping, key: str, field: str):
    if not isinstance(mapping, dict) or key not in mapping:
        raise ReceiptNotExpressible("missing", field=field)
    return mapping[key]


def _no_unknown(mapping: dict, known, field: str) -> None:
    if not isinstance(mapping, dict):
        raise ReceiptNotExpressible("must be an object", field=field)
    for key in mapping:
        if key not in known:
            raise ReceiptNotExpressible("no data file element carries this field", field=f"{field}.{key}" if field else key)


def _basic_date(value, field: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ReceiptNotExpressible("must be a date YYYY-MM-DD", field=field)
    return value.replace("-", "")


def _beijing(issued_at, issue_date: str) -> str:
    try:
        moment = issued_at if isinstance(issued_at, datetime) else datetime.fromisoformat(issued_at)
    except (TypeError, ValueError):
        raise ReceiptNotExpressible("must be an ISO 8601 time with an offset", field="issued_at") from None
    if moment.tzinfo is None:
        raise ReceiptNotExpressible("must have an offset", field="issued_at")
    local = moment.astimezone(BEIJING)
    if local.strftime("%Y%m%d") != issue_date:
        raise ReceiptNotExpressible("falls on another day in Beijing than issue_date (IssueDate and IssueTime are Beijing time)",
                                    field="issued_at")
    return local.strftime("%H:%M:%S")


class _Writer:
    """Builds elements in order; text is set only when not empty (`<PayMode/>` otherwise)."""

    def __init__(self, root_name):
        self.root = etree.Element(root_name)

    def group(self, parent, name):
        return etree.SubElement(parent, name)

    def leaf(self, parent, name, text="", field=None):
        element = etree.SubElement(parent, name)
        if text in (None, ""):
            return element
        if not isinstance(text, str):
            raise ReceiptNotExpressible("must be a string", field=field or name)
        try:
            element.text = text
        except ValueError:  # control characters, which XML 1.0 cannot carry
            raise ReceiptNotExpressible("holds characters an XML file cannot carry", field=field or name) from None
        return element


def _write_items(w: _Writer, parent, items, fields, element_name, field_name):
    if not isinstance(items, list):
        raise ReceiptNotExpressible("must be a list", field=field_name)
    for i, item in enumerate(items):
        where = f"{field_name}[{i}]"
        _no_unknown(item, dict(fields), where)
        element = w.group(parent, element_name)
        for field, name in fields:
            w.leaf(element, name, item.get(field, ""), f"{where}.{field}")


def from_receipt(receipt: dict, *, header_id: str, tag: str | None = None, version: str = "1.0",
                 specimen_code: str | None = None, area_code: str | None = None) -> bytes:
    """The data file (UTF-8 XML bytes) of a wire-form receipt: every §11 element in order,
    both seals present and empty, `<EInvoiceSignature/>` empty (sign it with
    `signing.sign_invoicing_party`, or attach a signature made elsewhere with
    `signing.add_signature`). `header_id` → `Header/EInvoiceID`; `tag` defaults to
    `CZ-EI-{province}`, `specimen_code` to the receipt code, `area_code` to `{province}0000`.
    `signature` and `supervision_signature` are ignored; `payer.id_number` is needed.
    Raises ReceiptNotExpressible for a receipt the file cannot carry unchanged (a field it
    has no element for, an `issued_at` on another Beijing day than `issue_date`, a `kind`
    that does not fit `visit.visit_type`, characters XML cannot hold)."""
    _no_unknown(receipt, RECEIPT_FIELDS | IGNORED_FIELDS, "")
    code = _need(receipt, "code", "code")
    if not isinstance(code, str) or len(code) < 2:
        raise ReceiptNotExpressible("must be the 8-digit receipt code", field="code")
    issuer, payer = _need(receipt, "issuer", "issuer"), _need(receipt, "payer", "payer")
    payments, visit = _need(receipt, "payments", "payments"), _need(receipt, "visit", "visit")
    _no_unknown(issuer, {"name", "credit_code"}, "issuer")
    _no_unknown(payer, {"name", "id_type", "id_number"}, "payer")
    _no_unknown(payments, dict(PAYMENTS), "payments")
    _no_unknown(visit, {"visit_type"} | {f for f, _ in VISIT_TEXT + VISIT_DATES + VISIT_NUMBERS}, "visit")
    visit_type = _need(visit, "visit_type", "visit.visit_type")
    if visit_type not in MEDICAL_TYPE_OF:
        raise ReceiptNotExpressible("is not a visit type of §2", field="visit.visit_type")
    if (visit_type == "inpatient") != (_need(receipt, "kind", "kind") == "inpatient"):
        raise ReceiptNotExpressible("does not fit visit.visit_type (MedicalType carries both)", field="kind")
    issue_date = _basic_date(_need(receipt, "issue_date", "issue_date"), "issue_date")
    issue_time = _beijing(_need(receipt, "issued_at", "issued_at"), issue_date)
    id_type = _need(payer, "id_type", "payer.id_type")

    w = _Writer("EInvoice")
    header = w.group(w.root, "Header")
    w.leaf(header, "EInvoiceID", header_id, "header_id")
    w.leaf(header, "EInvoiceTag", tag or f"CZ-EI-{code[:2]}", "tag")
    w.leaf(header, "Version", version, "version")
    data = w.group(w.root, "EInvoiceData")
    main = w.group(data, "Main")
    w.leaf(main, "EInvoiceName", _need(receipt, "title", "title"), "title")
    w.leaf(main, "EInvoiceCode", code, "code")
    w.leaf(main, "EInvoiceNumber", _need(receipt, "number", "number"), "number")
    w.leaf(main, "RandomNumber", _need(receipt, "check_code", "check_code"), "check_code")
    w.leaf(main, "EInvoiceSpecimenCode", specimen_code or code, "specimen_code")
    w.leaf(main, "SupervisorAreaCode", area_code or f"{code[:2]}0000", "area_code")
    w.leaf(main, "TotalAmount", _need(receipt, "total_amount", "total_amount"), "total_amount")
    w.leaf(main, "IssueDate", issue_date)
    w.leaf(main, "IssueTime", issue_time)
    party = w.group(main, "InvoicingParty")
    w.leaf(party, "InvoicingPartyCode", _need(issuer, "credit_code", "issuer.credit_code"), "issuer.credit_code")
    w.leaf(party, "InvoicingPartyName", _need(issuer, "name", "issuer.name"), "issuer.name")
    party = w.group(main, "PayerParty")
    w.leaf(party, "PayerPartyType", "2" if id_type == "organization" else "1")
    w.leaf(party, "PayerPartyCode", _need(payer, "id_number", "payer.id_number"), "payer.id_number")
    w.leaf(party, "PayerPartyName", _need(payer, "name", "payer.name"), "payer.name")
    if id_type not in ("organization", "resident_id"):
        w.leaf(party, "PayerPartyIdType", id_type, "payer.id_type")
    w.leaf(main, "PayMode")
    w.leaf(main, "BizCode", visit.get("medical_record_no") or visit.get("inpatient_no") or "", "visit.medical_record_no")
    w.leaf(main, "CurrencyType", "CNY")
    w.leaf(main, "ExchangeRate", "1")
    w.leaf(main, "Remark", receipt.get("remark", ""), "remark")
    w.leaf(main, "HandlingPerson", receipt.get("clerk", ""), "clerk")
    w.leaf(main, "Checker", receipt.get("checker", ""), "checker")
    w.leaf(main, "SupervisorRemark")
    ext = w.group(main, "MainExt")
    w.leaf(ext, "MedicalType", MEDICAL_TYPE_OF[visit_type])
    by_element = {e: ("visit", f) for f, e in VISIT_TEXT + VISIT_DATES + VISIT_NUMBERS}
    by_element.update({e: ("payments", f) for f, e in PAYMENTS})
    for name in ("VisitDate", "DepartmentName", "MedicalRecordNo", "InHospitalDate", "OutHospitalDate", "HospitalNo",
                 "MedicalInsuranceType", "MedicalInsuranceID", "MedicalInstitutionType", "FundPayAmount", "AccountPayAmount",
                 "CashPayAmount", "OtherPayAmount", "OwnPayAmount", "SelfPayAmount"):
        source, field = by_element[name]
        value = (visit if source == "visit" else payments).get(field, "")
        if source == "payments" and field in REQUIRED_PAYMENTS:
            value = _need(payments, field, f"payments.{field}")
        if name in ("VisitDate", "InHospitalDate", "OutHospitalDate") and value:
            value = _basic_date(value, f"visit.{field}")
        w.leaf(ext, name, value, f"{source}.{field}")
    for field, name in (("hospitalization_days", "HospitalDays"), ("gender", "Gender"), ("age", "Age")):
        if field in visit:
            value = visit[field]
            if field != "gender" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ReceiptNotExpressible("must be a whole number", field=f"visit.{field}")
            w.leaf(ext, name, str(value) if field != "gender" else value, f"visit.{field}")
    for name in ("InvoicingPartySeal", "SupervisorPartySeal"):
        seal = w.group(main, name)
        for child in ("SealId", "SealName", "SealHash"):
            w.leaf(seal, child)
    _write_items(w, w.group(data, "Details"), _need(receipt, "items", "items"), ITEM, "Item", "items")
    if "detail_items" in receipt:
        _write_items(w, w.group(data, "AuxDetails"), receipt["detail_items"], DETAIL_ITEM, "AuxItem", "detail_items")
    w.group(w.root, "EInvoiceSignature")
    etree.indent(w.root, space="  ")
    xml = etree.tostring(w.root, xml_declaration=True, encoding="UTF-8")
    try:
        parse(xml)
    except DataFileInvalid as exc:  # a value of the wrong form: name the receipt's field
        raise ReceiptNotExpressible(exc.detail, field=_field_of(exc.path)) from None
    return xml


def _field_of(path: str | None) -> str | None:
    for field, element in FIELD_PATHS.items():
        if element == path:
            return field
    return path


def normalize_receipt(receipt: dict) -> dict:
    """`receipt` as its data file gives it back (`to_receipt(parse(from_receipt(receipt)))`):
    compare this with `to_receipt` of a file to tell whether both carry the same receipt.
    Needs `payer.id_number`; raises ReceiptNotExpressible like `from_receipt`."""
    return to_receipt(parse(from_receipt(receipt, header_id="normalize")))
