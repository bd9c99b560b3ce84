"""Business rules of a medical receipt (DESIGN §2), independent of Flask and the database.

`check_receipt` takes the structurally valid receipt (as loaded by ReceiptWireSchema)
and returns every violation found, so a hospital fixes all of them in one round.
"""
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from backend.common.money import MAX_FEN, InvalidAmount, parse_fen

MEDICAL_CLASS = "06"
# The largest single medical receipt this node accepts: 10 million yuan. Above is a typo.
MAX_RECEIPT_FEN = 10_000_000_00
EARLIEST_ISSUE_DATE = date(2000, 1, 1)


@dataclass(frozen=True)
class Violation:
    field: str
    code: str
    message: str

    def as_dict(self):
        return {"field": self.field, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class SeriesRange:
    """An allocated code series: numbers `first`..`last` of receipt code `code`."""

    issuer_id: str
    code: str
    first: str
    last: str

    def covers(self, code: str, number: str) -> bool:
        # Fixed-width digit strings compare like the numbers they spell.
        return code == self.code and self.first <= number <= self.last


@dataclass(frozen=True)
class ReceiptContext:
    node_province: str
    issuer_credit_code: str
    today: date
    issuer_id: str = ""
    # Series of the receipt's code (any issuer) and every series of this issuer.
    series: tuple[SeriesRange, ...] = ()
    series_required: bool = False  # an issuer without series may not issue


def _fen(value, field, out):
    try:
        return parse_fen(value)
    except InvalidAmount as exc:
        out.append(Violation(field, "invalid_amount", str(exc)))
        return None


def _dec(value: str) -> Decimal:
    return Decimal(value)


def check_code_series(code: str, issue_date: date, ctx: ReceiptContext, out: list):
    if code[:2] != ctx.node_province:
        out.append(Violation("code", "wrong_province", f"receipt code region {code[:2]} is not this node's province {ctx.node_province}"))
    if code[2:4] != MEDICAL_CLASS:
        out.append(Violation("code", "unsupported_class", "this node accepts medical receipts (class 06) only"))
    code_year = int(code[6:8])
    issue_year = issue_date.year % 100
    if code_year not in (issue_year, (issue_year - 1) % 100):
        out.append(Violation("code", "year_mismatch", f"code series year {code[6:8]} does not match issue year {issue_date.year}"))


def check_series_allocation(code: str, number: str, ctx: ReceiptContext, out: list):
    """The fiscal department's allocation: never another issuer's series; and once an
    issuer has series (or series are required of every issuer), only its own."""
    if any(s.covers(code, number) for s in ctx.series if s.issuer_id != ctx.issuer_id):
        out.append(Violation("number", "series_of_another_issuer", f"{code}-{number} lies in a code series allocated to another issuer"))
        return
    own = [s for s in ctx.series if s.issuer_id == ctx.issuer_id]
    if (own or ctx.series_required) and not any(s.covers(code, number) for s in own):
        out.append(Violation("number", "series_not_allocated", f"{code}-{number} lies in none of this issuer's code series"))


def check_dates(data: dict, ctx: ReceiptContext, out: list):
    issue_date = data["issue_date"]
    if issue_date > ctx.today + timedelta(days=1):
        out.append(Violation("issue_date", "date_in_future", "issue_date lies in the future"))
    if issue_date < EARLIEST_ISSUE_DATE:
        out.append(Violation("issue_date", "date_too_old", "issue_date lies before 2000-01-01"))
    if data["issued_at"].date() != issue_date:
        out.append(Violation("issued_at", "date_mismatch", "issued_at falls on another day than issue_date"))
    visit = data["visit"]
    if data["kind"] == "outpatient":
        if "visit_date" not in visit:
            out.append(Violation("visit.visit_date", "required", "an outpatient receipt needs visit.visit_date"))
        elif visit["visit_date"] > issue_date:
            out.append(Violation("visit.visit_date", "date_order", "visit_date lies after issue_date"))
    else:
        for name in ("admission_date", "discharge_date", "inpatient_no"):
            if name not in visit:
                out.append(Violation(f"visit.{name}", "required", f"an inpatient receipt needs visit.{name}"))
        if "admission_date" in visit and "discharge_date" in visit:
            if visit["admission_date"] > visit["discharge_date"]:
                out.append(Violation("visit.discharge_date", "date_order", "discharge_date lies before admission_date"))
            if visit["discharge_date"] > issue_date:
                out.append(Violation("visit.discharge_date", "date_order", "discharge_date lies after issue_date"))


def check_amounts(data: dict, out: list) -> int | None:
    total = _fen(data["total_amount"], "total_amount", out)
    if total is not None and total <= 0:
        out.append(Violation("total_amount", "not_positive", "total_amount must be greater than 0"))
    if total is not None and total > MAX_RECEIPT_FEN:
        out.append(Violation("total_amount", "absurd_amount", "total_amount exceeds 10,000,000.00"))
    p = {k: _fen(v, f"payments.{k}", out) for k, v in data["payments"].items()}
    if total is not None and None not in p.values():
        paid = p["fund_paid"] + p["account_paid"] + p["cash_paid"] + p["other_paid"]
        if paid != total:
            out.append(Violation("payments", "split_mismatch", "fund_paid + account_paid + cash_paid + other_paid must equal total_amount"))
        personal = p.get("self_pay", 0) + p.get("self_expense", 0)
        if personal > p["account_paid"] + p["cash_paid"]:
            out.append(Violation("payments", "personal_share_exceeds_payment", "self_pay + self_expense must not exceed account_paid + cash_paid"))
    items_sum = 0
    for i, item in enumerate(data["items"]):
        amount = _fen(item["amount"], f"items[{i}].amount", out)
        if amount is None:
            items_sum = None
            continue
        if items_sum is not None:
            items_sum += amount
        expected = (_dec(item["quantity"]) * _dec(item["rate"])).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        if expected != Decimal(amount) / 100:
            out.append(Violation(f"items[{i}].amount", "item_mismatch", "amount must equal quantity × rate"))
        if _dec(item["quantity"]) <= 0:
            out.append(Violation(f"items[{i}].quantity", "not_positive", "quantity must be greater than 0"))
    if total is not None and items_sum is not None and items_sum != total:
        out.append(Violation("items", "items_mismatch", "items must add up to total_amount"))
    if total is not None and abs(total) >= MAX_FEN:
        return None
    return total


def check_receipt(data: dict, ctx: ReceiptContext) -> list[Violation]:
    """All rule violations of one structurally valid receipt; empty when it is acceptable."""
    out: list[Violation] = []
    check_code_series(data["code"], data["issue_date"], ctx, out)
    check_series_allocation(data["code"], data["number"], ctx, out)
    if data["issuer"]["credit_code"] != ctx.issuer_credit_code:
        out.append(Violation("issuer.credit_code", "issuer_mismatch", "issuer.credit_code is not the registered credit code of this issuer"))
    kind_visit = {"outpatient": ("outpatient", "emergency", "physical_exam", "other"), "inpatient": ("inpatient",)}
    if data["visit"]["visit_type"] not in kind_visit[data["kind"]]:
        out.append(Violation("visit.visit_type", "kind_mismatch", f"visit_type {data['visit']['visit_type']} does not fit kind {data['kind']}"))
    check_dates(data, ctx, out)
    check_amounts(data, out)
    return out
