"""Receipt rules without Flask or a database, including property-based tests."""
import copy
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st
from marshmallow import ValidationError

from backend.common.money import InvalidAmount, format_fen, parse_fen
from backend.receipts.rules import ReceiptContext, check_receipt
from backend.receipts.schemas import ReceiptWireSchema
from backend.receipts.status import StatusFacts, display_status
from tests.support import SAMPLE_RECEIPT

CTX = ReceiptContext(node_province="46", issuer_credit_code="12460200428201234X", today=date(2025, 12, 1))
SIGNED = {**SAMPLE_RECEIPT, "signature": {"alg": "ES256", "value": "A" * 86}}


def load(raw):
    return ReceiptWireSchema().load(raw)


def codes(raw):
    return {v.code for v in check_receipt(load(raw), CTX)}


def test_the_design_example_is_valid():
    assert check_receipt(load(SIGNED), CTX) == []


@st.composite
def consistent_receipts(draw):
    """Receipts whose items, split and dates all agree."""
    n = draw(st.integers(min_value=1, max_value=8))
    items, total = [], 0
    for i in range(n):
        qty = draw(st.integers(min_value=1, max_value=50))
        rate_fen = draw(st.integers(min_value=1, max_value=500_000))
        amount = qty * rate_fen
        total += amount
        items.append({"code": f"C{i:04d}", "name": "检查费", "quantity": str(qty), "unit": "次",
                      "rate": format_fen(rate_fen), "amount": format_fen(amount), "remark": ""})
    fund = draw(st.integers(min_value=0, max_value=total))
    account = draw(st.integers(min_value=0, max_value=total - fund))
    other = draw(st.integers(min_value=0, max_value=total - fund - account))
    cash = total - fund - account - other
    self_pay = draw(st.integers(min_value=0, max_value=account + cash))
    self_expense = draw(st.integers(min_value=0, max_value=account + cash - self_pay))
    issue = draw(st.dates(min_value=date(2024, 1, 1), max_value=CTX.today))
    visit = draw(st.dates(min_value=issue - timedelta(days=30), max_value=issue))
    raw = copy.deepcopy(SIGNED)
    raw.update(
        code=f"460601{issue.year % 100:02d}", issue_date=issue.isoformat(),
        issued_at=datetime(issue.year, issue.month, issue.day, 9, 30, tzinfo=timezone(timedelta(hours=8))).isoformat(),
        total_amount=format_fen(total), items=items,
        payments={"fund_paid": format_fen(fund), "account_paid": format_fen(account), "cash_paid": format_fen(cash),
                  "other_paid": format_fen(other), "self_pay": format_fen(self_pay), "self_expense": format_fen(self_expense)},
    )
    raw["visit"] = {**raw["visit"], "visit_date": visit.isoformat()}
    return raw


@settings(max_examples=200, deadline=None)
@given(consistent_receipts())
def test_consistent_receipts_are_accepted(raw):
    assert check_receipt(load(raw), CTX) == []


@settings(max_examples=200, deadline=None)
@given(consistent_receipts(), st.integers(min_value=-10_000, max_value=10_000).filter(bool))
def test_any_change_of_the_total_is_caught(raw, delta_fen):
    total = parse_fen(raw["total_amount"]) + delta_fen
    if total < 0:
        return
    raw["total_amount"] = format_fen(total)
    found = codes(raw)
    assert {"split_mismatch", "items_mismatch"} <= found


@settings(max_examples=200, deadline=None)
@given(consistent_receipts(), st.data())
def test_any_change_of_one_item_amount_is_caught(raw, data):
    i = data.draw(st.integers(min_value=0, max_value=len(raw["items"]) - 1))
    delta = data.draw(st.integers(min_value=1, max_value=10_000))
    raw["items"][i]["amount"] = format_fen(parse_fen(raw["items"][i]["amount"]) + delta)
    assert {"item_mismatch", "items_mismatch"} <= codes(raw)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=12), st.one_of(st.none(), st.integers(), st.text(max_size=20), st.floats(allow_nan=True)), max_size=8))
def test_schema_never_crashes_on_arbitrary_objects(junk):
    raw = {**SIGNED, **junk}
    try:
        loaded = load(raw)
    except ValidationError:
        return
    check_receipt(loaded, CTX)  # whatever passed the schema must be checkable


@given(st.integers(min_value=-(10**14), max_value=10**14))
def test_money_round_trips_through_fen(fen):
    assert parse_fen(format_fen(fen)) == fen
    assert Decimal(format_fen(fen)) * 100 == fen


@pytest.mark.parametrize("bad", [356.8, "356.8", "356.800", "1e3", "", " 1.00", "１.00", "NaN", "999999999999999.00"])
def test_money_refuses_floats_and_other_scales(bad):
    with pytest.raises(InvalidAmount):
        parse_fen(bad)


@pytest.mark.parametrize("facts,label", [
    (StatusFacts("issued", False, 100, 0), "正常"),
    (StatusFacts("issued", False, 100, 0, authorized=True), "已授权"),
    (StatusFacts("issued", True, 100, 0, authorized=True), "报销中"),
    (StatusFacts("issued", False, 100, 40), "部分报销"),
    (StatusFacts("issued", False, 100, 100), "已报销"),
    (StatusFacts("red_reversed", False, 100, 0), "已冲红"),
    (StatusFacts("paper_exchanged", False, 100, 0), "已换开"),
    (StatusFacts("voided", False, 100, 0), "已作废"),
])
def test_display_status(facts, label):
    assert display_status(facts) == label


@pytest.mark.parametrize("field,value", [("total_amount", "356.80\n"), ("code", "46060125\n"), ("check_code", "7Kq9Zx\n")])
def test_trailing_newlines_are_refused(field, value):
    with pytest.raises(ValidationError):
        load({**SIGNED, field: value})


# Code series allocation (票据代码段), decided without a database.
def series_codes(number, series, issuer_id="me"):
    from dataclasses import replace

    ctx = replace(CTX, issuer_id=issuer_id, series=tuple(series))
    return {v.code for v in check_receipt(load({**SIGNED, "number": number}), ctx)}


def test_no_series_anywhere_allows_any_number():
    assert series_codes("0000000500", []) == set()


def test_own_series_must_cover_the_number():
    from backend.receipts.rules import SeriesRange

    mine = SeriesRange("me", SIGNED["code"], "0000000001", "0000000999")
    assert series_codes("0000000999", [mine]) == set()
    assert series_codes("0000001000", [mine]) == {"series_not_allocated"}
    other_code = SeriesRange("me", "46060124", "0000000001", "0000099999")
    assert series_codes("0000000500", [other_code]) == {"series_not_allocated"}


def test_another_issuers_series_is_refused_even_without_own_series():
    from backend.receipts.rules import SeriesRange

    theirs = SeriesRange("them", SIGNED["code"], "0000000001", "0000000999")
    assert series_codes("0000000001", [theirs]) == {"series_of_another_issuer"}
    assert series_codes("0000001000", [theirs]) == set()


@given(first=st.integers(0, 10**10 - 1), width=st.integers(0, 10**6), number=st.integers(0, 10**10 - 1))
def test_series_coverage_is_numeric_on_ten_digit_strings(first, width, number):
    from backend.receipts.rules import SeriesRange

    last = min(first + width, 10**10 - 1)
    series = SeriesRange("me", "46060125", f"{first:010d}", f"{last:010d}")
    assert series.covers("46060125", f"{number:010d}") == (first <= number <= last)


def test_series_required_refuses_an_issuer_without_series():
    from dataclasses import replace

    ctx = replace(CTX, issuer_id="me", series_required=True)
    assert {v.code for v in check_receipt(load(SIGNED), ctx)} == {"series_not_allocated"}
