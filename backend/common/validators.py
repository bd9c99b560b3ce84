"""Marshmallow validators shared by the domains' schemas."""
from marshmallow import ValidationError, validate


class FullMatch(validate.Regexp):
    """Regexp that must match the whole value (`$` alone lets a trailing newline through).

    Still a `Regexp`, so apispec publishes the pattern in the OpenAPI spec.
    """

    def __call__(self, value):
        if not isinstance(value, str) or self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value
