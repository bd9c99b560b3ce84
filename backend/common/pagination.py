"""Opaque keyset cursors: base64url of a JSON list of the last row's sort values."""
import base64
import binascii
import json

from backend.common.errors import ValidationFailed


def encode_cursor(*values) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values), separators=(",", ":")).encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str | None, arity: int) -> list | None:
    if not cursor:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != arity:
        raise ValidationFailed("cursor is malformed; pass next_cursor from the previous page.", code="invalid_cursor")
    return values
