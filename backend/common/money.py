"""Money: decimal strings with exactly two places on the wire, integer fen inside."""
import re
from decimal import Decimal

AMOUNT_PATTERN = re.compile(r"^-?[0-9]{1,13}\.[0-9]{2}$")
MAX_FEN = 10**15  # ten trillion yuan: anything above is absurd


class InvalidAmount(ValueError):
    pass


def parse_fen(text) -> int:
    """`"356.80"` → 35680. Refuses floats, other scales, exponents and absurd values."""
    if not isinstance(text, str) or not AMOUNT_PATTERN.fullmatch(text):
        raise InvalidAmount("amounts are decimal strings with exactly 2 places, e.g. \"356.80\"")
    fen = int(Decimal(text) * 100)
    if abs(fen) >= MAX_FEN:
        raise InvalidAmount("amount is out of range")
    return fen


def format_fen(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    fen = abs(int(fen))
    return f"{sign}{fen // 100}.{fen % 100:02d}"
