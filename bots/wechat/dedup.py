"""Seen-message stores for WeChat's retries (a push unanswered within 5 s is sent again, up to
3 times). The handler needs three operations:

- `add(key) -> bool`: atomically mark `key` seen; True only for the first caller (claim);
- `get(key) -> bool`: whether `key` is currently marked;
- `delete(key)`: forget `key` (the handler does this when answering failed, so that WeChat's
  retry gets another chance).

`DedupStore` keeps them in memory (one process). `StoreDedup` adapts any key-value store with
`add(key, ttl)`, `get(key)` and `delete(key)` (e.g. bots.store's MemoryStore/RedisStore, where
`add` is SET NX with an expiry) for several processes.
"""
import threading
import time
from collections import OrderedDict
from typing import Protocol, runtime_checkable

DEFAULT_TTL = 300.0


@runtime_checkable
class SeenStore(Protocol):
    def add(self, key: str) -> bool: ...

    def get(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...


class DedupStore:
    """In-memory, thread-safe, with a TTL per key and a bound on the number of keys (the
    oldest go first when it is full)."""

    def __init__(self, ttl: float = DEFAULT_TTL, *, clock=time.monotonic, max_entries: int = 100_000):
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max(1, max_entries)
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def _prune(self, now: float, *, room: bool = False) -> None:
        # Keys are in insertion order and share one TTL, so expired ones are at the front.
        while self._expiry and next(iter(self._expiry.values())) <= now:
            self._expiry.popitem(last=False)
        while room and len(self._expiry) >= self.max_entries:
            self._expiry.popitem(last=False)

    def add(self, key: str) -> bool:
        with self._lock:
            now = self.clock()
            self._prune(now)
            if key in self._expiry:
                return False
            self._prune(now, room=True)
            self._expiry[key] = now + self.ttl
            return True

    def get(self, key: str) -> bool:
        with self._lock:
            expires = self._expiry.get(key)
            return expires is not None and expires > self.clock()

    def delete(self, key: str) -> None:
        with self._lock:
            self._expiry.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            self._prune(self.clock())
            return len(self._expiry)


class StoreDedup:
    """SeenStore over a shared key-value store (`add(key, ttl) -> bool`, `get`, `delete`)."""

    def __init__(self, store, *, ttl: float = DEFAULT_TTL, prefix: str = "wechat:seen:"):
        self.store, self.ttl, self.prefix = store, ttl, prefix

    def add(self, key: str) -> bool:
        return bool(self.store.add(self.prefix + key, self.ttl))

    def get(self, key: str) -> bool:
        return self.store.get(self.prefix + key) is not None

    def delete(self, key: str) -> None:
        self.store.delete(self.prefix + key)
