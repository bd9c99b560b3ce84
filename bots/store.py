"""The bot's own small state: chat bindings (delegated tokens), conversation state, seen
message ids, last interaction (WeChat's 48-hour window). Redis when BOT_REDIS_URL is set
(several bot processes), else memory (one process, the embedded default)."""
import json
import threading
import time


class MemoryStore:
    def __init__(self, clock=time.time):
        self._data: dict[str, tuple[str, float | None]] = {}
        self._lock = threading.Lock()
        self.clock = clock

    def get(self, key: str):
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            value, expires = item
            if expires is not None and expires <= self.clock():
                del self._data[key]
                return None
            return json.loads(value)

    def set(self, key: str, value, ttl: float | None = None) -> None:
        with self._lock:
            self._data[key] = (json.dumps(value, ensure_ascii=False), self.clock() + ttl if ttl else None)

    def add(self, key: str, ttl: float) -> bool:
        """Sets `key` only if absent; True when this call set it (deduplication)."""
        with self._lock:
            item = self._data.get(key)
            if item is not None and (item[1] is None or item[1] > self.clock()):
                return False
            self._data[key] = ("1", self.clock() + ttl)
            return True

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)


class RedisStore:
    def __init__(self, url: str, prefix: str = "piaojia:bot:"):
        from redis import Redis

        self.redis, self.prefix = Redis.from_url(url), prefix

    def get(self, key: str):
        value = self.redis.get(self.prefix + key)
        return json.loads(value) if value is not None else None

    def set(self, key: str, value, ttl: float | None = None) -> None:
        self.redis.set(self.prefix + key, json.dumps(value, ensure_ascii=False), px=int(ttl * 1000) if ttl else None)

    def add(self, key: str, ttl: float) -> bool:
        return bool(self.redis.set(self.prefix + key, "1", nx=True, px=int(ttl * 1000)))

    def delete(self, key: str) -> None:
        self.redis.delete(self.prefix + key)


def make_store(redis_url: str | None):
    return RedisStore(redis_url) if redis_url else MemoryStore()
