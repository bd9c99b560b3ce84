"""The shape of the national data file (DESIGN §11): which elements exist where, which are
required, and what their text may be. `parse` checks a file against it; `from_receipt`
writes elements in its order.

Extensions beyond the §11 example (all optional, written only when the receipt has the
field, so a plain receipt's file is exactly the §11 shape; see docs/data-file.md):
`PayerParty/PayerPartyIdType`, `MainExt/HospitalDays`, `MainExt/Gender`, `MainExt/Age`,
and `EInvoiceData/AuxDetails/AuxItem` (清单, the receipt's `detail_items`).
"""
import re
from dataclasses import dataclass
from datetime import date

from backend.receipts.schemas import AMOUNT, CHECK_CODE, CODE, CREDIT_CODE, ID_NUMBER, ID_TYPES, NUMBER, QUANTITY, RATE

MAX_ITEMS = 200
MAX_AUX_ITEMS = 2000

# Visit types of §2 and the MedicalType text that carries them; 住院 alone is an inpatient receipt.
MEDICAL_TYPES = {"门诊": "outpatient", "急诊": "emergency", "住院": "inpatient", "体检": "physical_exam", "其他": "other"}
PERSON_ID_TYPES = tuple(t for t in ID_TYPES if t != "organization")


def _valid_date(text: str) -> bool:
    try:
        date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Leaf:
    """An element holding text only. `required`: present and not empty; otherwise it may be
    absent or empty. `pattern`: the whole text must match (when not empty)."""

    name: str
    required: bool = False
    max_len: int = 200
    pattern: re.Pattern | None = None
    describe: str = ""
    check: object = None  # a further test of the text, e.g. a real calendar date

    def problem(self, text: str) -> str | None:
        if text == "":
            return "must not be empty" if self.required else None
        if len(text) > self.max_len:
            return f"must be at most {self.max_len} characters"
        if self.pattern is not None and self.pattern.fullmatch(text) is None:
            return f"must be {self.describe}"
        if self.check is not None and not self.check(text):
            return f"must be {self.describe}"
        return None


@dataclass(frozen=True)
class Group:
    """An element holding elements only (whitespace between them allowed). `max_count` > 1
    makes it a repeated element (`Item`), its paths indexed from 1: `Item[2]`."""

    name: str
    children: tuple
    required: bool = True
    max_count: int = 1

    @property
    def repeated(self) -> bool:
        return self.max_count > 1


def _amount(name, required=False):
    return Leaf(name, required, 16, AMOUNT.regex, "a decimal string with exactly 2 places, e.g. 356.80")


def _date(name, required=False):
    return Leaf(name, required, 8, re.compile(r"[0-9]{8}"), "a date YYYYMMDD, e.g. 20251120", _valid_date)


def _text(name, max_len, required=False):
    return Leaf(name, required, max_len)


def _one_of(name, values, required=False):
    return Leaf(name, required, 32, re.compile("|".join(map(re.escape, values))), "one of " + ", ".join(values))


def _seal(name):
    return Group(name, (_text("SealId", 64), _text("SealName", 100), _text("SealHash", 512)))


def _signature(name):
    # Algorithm and value are judged by verification (valid: false), not refused here.
    return Group(name, (
        _text("SignatureAlgorithm", 16),
        Leaf("SignatureTime", False, 40, re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})"),
             "an ISO 8601 time with an offset, e.g. 2025-11-20T10:15:01+08:00"),
        _text("SerialNumber", 128),
        _text("SignatureValue", 1024),
    ), required=False)


def _item_leaves():
    return (
        _text("ItemCode", 32),
        _text("ItemName", 100, required=True),
        Leaf("ItemQuantity", True, 16, QUANTITY.regex, "a decimal string with at most 4 places, e.g. 2"),
        _text("ItemUnit", 16),
        Leaf("ItemStd", True, 20, RATE.regex, "a decimal string with at most 4 places, e.g. 40.00"),
        _amount("ItemAmount", required=True),
        _text("ItemRemark", 200),
    )


MAIN_EXT = Group("MainExt", (
    _one_of("MedicalType", tuple(MEDICAL_TYPES), required=True),
    _date("VisitDate"),
    _text("DepartmentName", 100),
    _text("MedicalRecordNo", 64),
    _date("InHospitalDate"),
    _date("OutHospitalDate"),
    _text("HospitalNo", 64),
    _text("MedicalInsuranceType", 64),
    _text("MedicalInsuranceID", 64),
    _text("MedicalInstitutionType", 64),
    _amount("FundPayAmount", required=True),
    _amount("AccountPayAmount", required=True),
    _amount("CashPayAmount", required=True),
    _amount("OtherPayAmount", required=True),
    _amount("OwnPayAmount"),
    _amount("SelfPayAmount"),
    Leaf("HospitalDays", False, 5, re.compile(r"[0-9]{1,5}"), "a whole number of days"),
    _text("Gender", 8),
    Leaf("Age", False, 3, re.compile(r"[0-9]{1,3}"), "a whole number of years"),
))

MAIN = Group("Main", (
    _text("EInvoiceName", 100, required=True),
    Leaf("EInvoiceCode", True, 8, CODE.regex, "8 digits (票据代码)"),
    Leaf("EInvoiceNumber", True, 10, NUMBER.regex, "10 digits (票据号码)"),
    Leaf("RandomNumber", True, 6, CHECK_CODE.regex, "6 letters or digits (校验码)"),
    Leaf("EInvoiceSpecimenCode", False, 32, re.compile(r"[0-9A-Za-z]+"), "letters and digits"),
    Leaf("SupervisorAreaCode", False, 6, re.compile(r"[0-9]{6}"), "6 digits (a region code)"),
    _amount("TotalAmount", required=True),
    _date("IssueDate", required=True),
    Leaf("IssueTime", True, 8, re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"), "a Beijing time HH:MM:SS, e.g. 10:15:00"),
    Group("InvoicingParty", (
        Leaf("InvoicingPartyCode", True, 18, CREDIT_CODE.regex, "an 18-character unified social credit code"),
        _text("InvoicingPartyName", 200, required=True),
    )),
    Group("PayerParty", (
        _one_of("PayerPartyType", ("1", "2"), required=True),
        Leaf("PayerPartyCode", True, 32, ID_NUMBER.regex, "5 to 32 letters or digits"),
        _text("PayerPartyName", 100, required=True),
        _one_of("PayerPartyIdType", PERSON_ID_TYPES),
    )),
    _text("PayMode", 32),
    _text("BizCode", 64),
    _one_of("CurrencyType", ("CNY",)),
    Leaf("ExchangeRate", False, 8, re.compile(r"1(\.0{1,6})?"), "1 (the receipt is in CNY)"),
    _text("Remark", 500),
    _text("HandlingPerson", 50),
    _text("Checker", 50),
    _text("SupervisorRemark", 500),
    MAIN_EXT,
    _seal("InvoicingPartySeal"),
    _seal("SupervisorPartySeal"),
))

EINVOICE = Group("EInvoice", (
    Group("Header", (
        _text("EInvoiceID", 64, required=True),
        Leaf("EInvoiceTag", True, 32, re.compile(r"[0-9A-Za-z-]+"), "letters, digits and '-', e.g. CZ-EI-46"),
        Leaf("Version", True, 16, re.compile(r"[0-9]{1,4}(\.[0-9]{1,4}){0,3}"), "a version such as 1.0"),
    )),
    Group("EInvoiceData", (
        MAIN,
        Group("Details", (Group("Item", _item_leaves(), max_count=MAX_ITEMS),)),
        Group("AuxDetails", (Group("AuxItem", _item_leaves() + (_text("ItemCategory", 100), _text("ItemSpec", 100)),
                                   required=False, max_count=MAX_AUX_ITEMS),), required=False),
    )),
    Group("EInvoiceSignature", (_signature("InvoicingPartySignature"), _signature("SupervisorPartySignature")), required=False),
))
