"""Limits on failed attempts (wrong secrets, bad assertions, wrong check codes).

Counted in Flask-Limiter's storage — Redis in production, so every web process shares the
counts; memory in the embedded default. Only failures count: a client that keeps getting
it right is never slowed down, and one that keeps guessing is stopped, per client, per
source address and (for check codes) per receipt.
"""
import math
import time

from flask import current_app, request
from limits import parse

from backend.common.errors import DomainError


class TooManyAttempts(DomainError):
    status = 429
    code = "too_many_attempts"
    title = "尝试次数过多，请稍后再试"

    def __init__(self, detail=None, *, retry_after: int, **kwargs):
        super().__init__(detail, **kwargs)
        self.headers = {"Retry-After": str(retry_after)}
        self.extra.setdefault("retry_after", retry_after)


def _strategy():
    from backend.extensions import limiter

    return limiter.limiter


def client_address() -> str:
    return request.remote_addr or "unknown"


def _item(setting: str):
    return parse(current_app.config[setting])


def ensure_allowed(scope: str, setting: str, *identifiers: str) -> None:
    """Refuses (429) when `identifiers` used up their failures of `setting` in `scope`."""
    item = _item(setting)
    if not _strategy().test(item, scope, *identifiers):
        reset_at, _ = _strategy().get_window_stats(item, scope, *identifiers)
        raise TooManyAttempts(f"Too many failed attempts; try again later ({scope}).",
                              retry_after=max(1, math.ceil(reset_at - time.time())))


def record_failure(scope: str, setting: str, *identifiers: str) -> bool:
    """Counts one failure; False when the limit is now reached (the next attempt is refused)."""
    item = _item(setting)
    _strategy().hit(item, scope, *identifiers)
    return _strategy().test(item, scope, *identifiers)


def failures(scope: str, setting: str, *identifiers: str) -> int:
    item = _item(setting)
    _, remaining = _strategy().get_window_stats(item, scope, *identifiers)
    return item.amount - remaining


def reset_failures(scope: str, setting: str, *identifiers: str) -> None:
    _strategy().clear(_item(setting), scope, *identifiers)
