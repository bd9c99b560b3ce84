"""Limits on failed attempts (wrong secrets, bad assertions, wrong check codes).

Counted in Flask-Limiter's storage — Redis in production, so every web process shares the
counts; memory in the embedded default. Only failures count: a client that keeps getting
it right is never slowed down, and one that keeps guessing is stopped — per source (client,
address) first; see docs/decisions/failed-attempt-limits.md for the numbers.
"""
import ipaddress
import math
import time

from flask import current_app, request
from limits import parse

from backend.common.errors import DomainError
from backend.common.redis_client import node_namespace

# One host commonly holds a whole IPv6 /64: counting its addresses one by one would give it
# 2**64 sources.
IPV6_SOURCE_PREFIX = 64


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
    """The source address as counted: an IPv4 address, or an IPv6 address's /64 network."""
    raw = request.remote_addr or "unknown"
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if address.version == 6 and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_SOURCE_PREFIX}", strict=False))
    return str(address)


def _scoped(scope: str) -> str:
    """Counts are the node's own: several nodes may share one Redis (receipt ids, say, repeat)."""
    return f"{node_namespace()}:{scope}"


def _item(setting: str):
    return parse(current_app.config[setting])


def limit_of(setting: str) -> int:
    return _item(setting).amount


def allowed(scope: str, setting: str, *identifiers: str) -> bool:
    return _strategy().test(_item(setting), _scoped(scope), *identifiers)


def refuse(scope: str, setting: str, *identifiers: str, error=TooManyAttempts, **kwargs):
    """Raises `error` (429) with the seconds until the window of `identifiers` ends."""
    reset_at, _ = _strategy().get_window_stats(_item(setting), _scoped(scope), *identifiers)
    raise error(kwargs.pop("detail", f"Too many failed attempts; try again later ({scope})."),
                retry_after=max(1, math.ceil(reset_at - time.time())), **kwargs)


def ensure_allowed(scope: str, setting: str, *identifiers: str) -> None:
    """Refuses (429) when `identifiers` used up their failures of `setting` in `scope`."""
    if not allowed(scope, setting, *identifiers):
        refuse(scope, setting, *identifiers)


def record_failure(scope: str, setting: str, *identifiers: str) -> bool:
    """Counts one failure; False when the limit is now reached (the next attempt is refused)."""
    item = _item(setting)
    _strategy().hit(item, _scoped(scope), *identifiers)
    return _strategy().test(item, _scoped(scope), *identifiers)


def increment(scope: str, setting: str, *identifiers: str, amount: int = 1) -> int:
    """Adds `amount` atomically (a window of `setting` starts at the first one); the new count."""
    item = _item(setting)
    return _strategy().storage.incr(item.key_for(_scoped(scope), *identifiers), item.get_expiry(), amount=amount)


def reserve(scope: str, setting: str, *identifiers: str) -> bool:
    """Takes one attempt before the answer is known (so concurrent attempts cannot overshoot
    the limit); False when none is left. Give it back with `release` if it succeeds."""
    return increment(scope, setting, *identifiers) <= limit_of(setting)


def release(scope: str, setting: str, *identifiers: str) -> None:
    increment(scope, setting, *identifiers, amount=-1)


def failures(scope: str, setting: str, *identifiers: str) -> int:
    item = _item(setting)
    _, remaining = _strategy().get_window_stats(item, _scoped(scope), *identifiers)
    return item.amount - remaining


def reset_failures(scope: str, setting: str, *identifiers: str) -> None:
    _strategy().clear(_item(setting), _scoped(scope), *identifiers)
