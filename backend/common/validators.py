"""Marshmallow validators shared by the domains' schemas."""
import re

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
