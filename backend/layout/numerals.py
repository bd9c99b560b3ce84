"""Amounts in Chinese capital numerals (大写金额), as printed on receipts.

Follows the rules for writing amounts on bills and settlement vouchers (正确填写票据和结算
凭证的基本规定):
- digits 零壹贰叁肆伍陆柒捌玖, units 拾佰仟, sections 万 and 亿 (万亿 for 10^12 and above);
- a run of zeros inside the number is written as one 零, also across a section boundary
  (10,790.50 → 壹万零柒佰玖拾元伍角整; 100,010,000 → 壹亿零壹万元整);
- 壹拾 keeps its 壹 (10 → 壹拾元整);
- a zero 角 between 元 and a non-zero 分 is written 零 (1,000.05 → 壹仟元零伍分);
- where the rules let either form stand (a zero 元 digit followed by a non-zero 角, as in
  1,680.32), the 零 is left out: 壹仟陆佰捌拾元叁角贰分;
- 整 closes an amount that ends at 元 or at 角; an amount with 分 has no 整;
- a negative amount (a red receipt) starts with 负.
"""
from decimal import Decimal, InvalidOperation

DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ("", "拾", "佰", "仟")


def _section(n: int) -> str:
    """0 < n < 10,000: the digits with 仟佰拾, inner zeros as one 零, trailing zeros dropped."""
    out = []
    pending_zero = False
    for position in range(3, -1, -1):
        digit = (n // 10**position) % 10
        if digit == 0:
            if out:
                pending_zero = True
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        out.append(DIGITS[digit] + _UNITS[position])
    return "".join(out)


def _integer(n: int) -> str:
    """n > 0 in words, split recursively at 亿 (10^8) and then at 万 (10^4)."""
    for size, name in ((10**8, "亿"), (10**4, "万")):
        if n >= size:
            high, low = divmod(n, size)
            text = _integer(high) + name
            if low:
                # A gap between the sections (the low part is shorter than its full width)
                # is written as one 零.
                text += ("零" if low < size // 10 else "") + _integer(low)
            return text
    return _section(n)


def to_chinese_capital(amount) -> str:
    """`Decimal("356.80")` → `叁佰伍拾陆元捌角整`.

    Takes a Decimal, an int or a decimal string with at most two places; refuses floats
    (binary fractions are not money) and anything finer than a fen (分) with ValueError.
    """
    if isinstance(amount, (bool, float)):
        raise TypeError("amounts are Decimal, int or decimal strings, never floats")
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal amount: {amount!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite amount: {amount!r}")
    fen_total = value * 100
    if fen_total != fen_total.to_integral_value():
        raise ValueError(f"amounts have at most two decimal places (fen): {amount!r}")
    fen_total = int(fen_total)
    sign = "负" if fen_total < 0 else ""
    fen_total = abs(fen_total)
    yuan, rest = divmod(fen_total, 100)
    jiao, fen = divmod(rest, 10)

    if yuan == 0 and rest == 0:
        return "零元整"
    text = _integer(yuan) + "元" if yuan else ""
    if jiao:
        text += DIGITS[jiao] + "角"
    elif fen and yuan:
        text += "零"
    if fen:
        text += DIGITS[fen] + "分"
    else:
        text += "整"
    return sign + text
