"""Dates in everyday Chinese: Chinese numerals, absolute and relative dates, periods.

Pure functions. `today` is always passed in (the citizen's day in China, see `local_today`),
so nothing here reads the clock.
"""
import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")  # no daylight saving time in China

_CN_DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_CHARS = "".join(_CN_DIGITS) + "".join(_CN_UNITS)
# A Chinese number is converted only where it clearly is one: before a counter or date
# word, or after 第. "三亚" and "一下" stay as they are.
_CN_NUMBER = re.compile(
    rf"(?<=第)[{_CN_CHARS}]+|[{_CN_CHARS}]+(?=\s*(?:年|月|日|号|天|周|星期|个|张|元|块|角|分|条|项|家|笔|次))")


def local_today(now: datetime) -> date:
    """The calendar day in China at `now` (a naive datetime is taken as China time)."""
    if now.tzinfo is not None:
        return now.astimezone(CHINA).date()
    return now.date()


def cn_to_int(text: str) -> int | None:
    """二〇二五 → 2025, 十一 → 11, 二十 → 20, 一百零五 → 105; None when not a number."""
    if not text or any(ch not in _CN_DIGITS and ch not in _CN_UNITS for ch in text):
        return None
    if not any(ch in _CN_UNITS for ch in text):  # read digit by digit: 二〇二五
        return int("".join(str(_CN_DIGITS[ch]) for ch in text))
    total, digit = 0, None
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        else:
            total += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
    return total + (digit or 0)


def convert_cn_numerals(text: str) -> str:
    def sub(m):
        value = cn_to_int(m.group(0))
        return m.group(0) if value is None else str(value)

    return _CN_NUMBER.sub(sub, text)


@dataclass(frozen=True)
class Period:
    """An inclusive range of days."""

    start: date
    end: date

    @property
    def single_day(self) -> bool:
        return self.start == self.end

    def to_json(self) -> list[str]:
        return [self.start.isoformat(), self.end.isoformat()]

    @classmethod
    def from_json(cls, value) -> "Period | None":
        if not value:
            return None
        return cls(date.fromisoformat(value[0]), date.fromisoformat(value[1]))


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _month(y: int, m: int) -> Period | None:
    if not 1 <= m <= 12 or not 1900 <= y <= 2999:
        return None
    return Period(date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1]))


def _add_months(y: int, m: int, delta: int) -> tuple[int, int]:
    index = y * 12 + (m - 1) + delta
    return index // 12, index % 12 + 1


def _recent_day(m: int, d: int, today: date) -> date | None:
    """Month and day without a year: the latest such day not after today."""
    day = _safe_date(today.year, m, d)
    if day is None or day > today:
        day = _safe_date(today.year - 1, m, d)
    return day


def _recent_month(m: int, today: date) -> Period | None:
    return _month(today.year if m <= today.month else today.year - 1, m)


_YEAR_WORDS = {"今年": 0, "本年": 0, "去年": -1, "上一年": -1, "前年": -2}
_FULL_DATE = re.compile(r"(?<!\d)(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?!\d)\s*[日号]?")
_MONTH_DAY = re.compile(r"(?<![\d.])(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]")
_YEAR_MONTH = re.compile(r"(?<!\d)(\d{4})\s*年\s*(\d{1,2})\s*月")
_REL_YEAR_MONTH = re.compile(r"(今年|本年|去年|前年)\s*(\d{1,2})\s*月")
_MONTH = re.compile(r"(?<![\d.])(\d{1,2})\s*月")
_YEAR = re.compile(r"(?<!\d)(\d{4})\s*年")
_DAY_OF_MONTH = re.compile(r"(?<![\d.月])(\d{1,2})\s*[日号](?!码)")
_LAST_N = re.compile(r"(?:最近|近|过去)\s*(\d{1,3})?\s*(?:个)?\s*(天|日|周|星期|礼拜|月)")


def find_full_date(text: str, today: date) -> tuple[date, tuple[int, int]] | None:
    """A single calendar day written out (2025-11-20, 2025年11月20日, 11月20日), with its span."""
    m = _FULL_DATE.search(text)
    if m:
        day = _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if day:
            return day, m.span()
    m = _MONTH_DAY.search(text)
    if m:
        day = _recent_day(int(m.group(1)), int(m.group(2)), today)
        if day:
            return day, m.span()
    return None


def find_period(text: str, today: date) -> tuple[Period, tuple[int, int]] | None:
    """The first date expression in `text` as a range of days, and where it was found.

    Absolute forms (2025-11-20, 2025年11月, 11月20日, 十一月 after numeral conversion, 2025年)
    and relative ones (今天, 昨天, 前天, 本周, 上周, 最近一周, 最近3天, 最近三个月, 这个月,
    本月, 上个月, 今年, 去年, 20号). A month or day without a year is the latest one not in
    the future."""
    found = find_full_date(text, today)
    if found:
        return Period(found[0], found[0]), found[1]
    m = _YEAR_MONTH.search(text)
    if m and (p := _month(int(m.group(1)), int(m.group(2)))):
        return p, m.span()
    m = _REL_YEAR_MONTH.search(text)
    if m and (p := _month(today.year + _YEAR_WORDS[m.group(1)], int(m.group(2)))):
        return p, m.span()
    m = _LAST_N.search(text)
    if m:
        n = int(m.group(1) or 1)
        unit = m.group(2)
        if unit in ("天", "日"):
            start = today - timedelta(days=max(n, 1) - 1)
        elif unit == "月":
            y, mo = _add_months(today.year, today.month, -n)
            start = (_safe_date(y, mo, min(today.day, calendar.monthrange(y, mo)[1])) or today) + timedelta(days=1)
        else:
            start = today - timedelta(days=7 * n - 1)
        return Period(start, today), m.span()
    relative = [
        (r"今天|今日", lambda: Period(today, today)),
        (r"大前天", lambda: Period(today - timedelta(days=3), today - timedelta(days=3))),
        (r"前天", lambda: Period(today - timedelta(days=2), today - timedelta(days=2))),
        (r"昨天|昨日", lambda: Period(today - timedelta(days=1), today - timedelta(days=1))),
        (r"本周|这周|这个?星期|这个?礼拜", lambda: Period(today - timedelta(days=today.weekday()), today)),
        (r"上周|上个?星期|上个?礼拜",
         lambda: Period(today - timedelta(days=today.weekday() + 7), today - timedelta(days=today.weekday() + 1))),
        (r"上上个?月", lambda: _month(*_add_months(today.year, today.month, -2))),
        (r"上个?月", lambda: _month(*_add_months(today.year, today.month, -1))),
        (r"这个?月|本月|当月", lambda: _month(today.year, today.month)),
        (r"今年|本年", lambda: Period(date(today.year, 1, 1), date(today.year, 12, 31))),
        (r"去年|上一年", lambda: Period(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31))),
        (r"前年", lambda: Period(date(today.year - 2, 1, 1), date(today.year - 2, 12, 31))),
    ]
    for pattern, make in relative:
        m = re.search(pattern, text)
        if m:
            return make(), m.span()
    m = _MONTH.search(text)
    if m and (p := _recent_month(int(m.group(1)), today)):
        return p, m.span()
    m = _YEAR.search(text)
    if m and 1900 <= int(m.group(1)) <= 2999:
        y = int(m.group(1))
        return Period(date(y, 1, 1), date(y, 12, 31)), m.span()
    m = _DAY_OF_MONTH.search(text)
    if m:
        d = int(m.group(1))
        day = _safe_date(today.year, today.month, d)
        if day is None or day > today:
            y, mo = _add_months(today.year, today.month, -1)
            day = _safe_date(y, mo, d)
        if day:
            return Period(day, day), m.span()
    return None
