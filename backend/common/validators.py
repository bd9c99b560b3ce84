"""Marshmallow validators shared by the domains' schemas."""
import re
from datetime import timezone

from marshmallow import ValidationError, fields, validate

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class FullMatch(validate.Regexp):
    """Regexp that must match the whole value (`$` alone lets a trailing newline through).

    Still a `Regexp`, so apispec publishes the pattern in the OpenAPI spec.
    """

    def __call__(self, value):
        if not isinstance(value, str) or self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


class IsoDate(fields.Date):
    """A calendar date written exactly `YYYY-MM-DD` (no basic format, no time)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        return super()._deserialize(value, attr, data, **kwargs)


def iso_timestamp(value) -> str | None:
    """ISO 8601 with an offset, the one timestamp format of this API (naive values are UTC:
    SQLite hands them back without a zone)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat()


class Timestamp(fields.AwareDateTime):
    """A timestamp answered as ISO 8601 with an offset; read as one too (naive input refused)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("default_timezone", None)
        metadata = {"description": "ISO 8601 with an offset, e.g. 2025-11-20T10:15:00+08:00", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return iso_timestamp(value)
