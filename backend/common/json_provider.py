"""Flask's JSON answers with this API's formats: timestamps ISO 8601 with an offset (Flask's
default would write RFC 1123), dates ISO, Decimals as strings, Chinese unescaped."""
from datetime import date, datetime
from decimal import Decimal

from flask.json.provider import DefaultJSONProvider

from backend.common.validators import iso_timestamp


class PiaojiaJSONProvider(DefaultJSONProvider):
    ensure_ascii = False
    sort_keys = False

    @staticmethod
    def default(o):
        if isinstance(o, datetime):
            return iso_timestamp(o)
        if isinstance(o, date):
            return o.isoformat()
        if isinstance(o, Decimal):
            return str(o)
        return DefaultJSONProvider.default(o)
