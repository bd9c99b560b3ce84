"""Rows that nearly every request reads — the calling API client, its unit, an issuer's
credentials — kept in each web process and dropped on every process the moment they change.

A change is announced after its transaction commits on a Redis pub/sub channel that a
thread of each process listens to (docs/decisions/row-cache.md); there is no TTL. The
cache is used only while that listener is subscribed: before it is, after a disconnect
(entries are then dropped, since announcements may have been missed) and without Redis
at all (the embedded default) every read goes to the database as before.

What is cached is the row's column values; a hit becomes an instance of the current
session with `merge(load=False)` (no SQL), so relationships still load lazily and the
instance behaves like one the session loaded itself.
"""
import json
import logging
import os
import threading
import time

from sqlalchemy import event
from sqlalchemy.orm import Session, make_transient_to_detached

log = logging.getLogger(__name__)
PENDING_KEY = "piaojia_row_cache_invalidate"
_CACHED: dict[str, type] = {}  # table name → model of the rows kept


def cached_model(model):
    """Class decorator: rows of this model may be kept by `get`; every ORM change of one
    (flushed update or delete) drops it on every process after commit."""
    _CACHED[model.__tablename__] = model
    return model


class _State:
    """This process's cache and its listener (one per process: state is rebuilt after a fork)."""

    def __init__(self, redis_url: str, channel: str):
        self.pid = os.getpid()
        self.redis_url, self.channel = redis_url, channel
        self.lock = threading.Lock()
        self.rows: dict[tuple[str, str], dict] = {}
        self.generation = 0
        self.ready = False
        self.stopped = False
        self.thread = threading.Thread(target=self._listen, name="row-cache-listener", daemon=True)
        self.thread.start()

    def drop(self, table: str | None, key: str | None):
        with self.lock:
            self.generation += 1
            if table is None:
                self.rows.clear()
            elif key is None:
                for cached in [k for k in self.rows if k[0] == table]:
                    del self.rows[cached]
            else:
                self.rows.pop((table, key), None)

    def _listen(self):
        from redis import Redis

        backoff = 0.2
        while not self.stopped:
            pubsub = None
            try:
                pubsub = Redis.from_url(self.redis_url, socket_keepalive=True, health_check_interval=30).pubsub()
                pubsub.subscribe(self.channel)
                for message in pubsub.listen():
                    if self.stopped:
                        return
                    if message["type"] == "subscribe":
                        self.drop(None, None)  # whatever changed while not listening is unknown
                        self.ready = True
                        backoff = 0.2
                    elif message["type"] == "message":
                        change = json.loads(message["data"])
                        self.drop(change.get("table"), change.get("key"))
            except Exception as exc:  # noqa: BLE001 - reconnect; meanwhile every read goes to the database
                log.warning("row cache listener disconnected; reading from the database", extra={"error": type(exc).__name__})
            finally:
                self.ready = False
                self.drop(None, None)
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:  # noqa: BLE001
                        pass
            time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)


_state: _State | None = None
_state_lock = threading.Lock()


def channel_for(redis_url: str) -> str:
    """Pub/sub channels are shared by every database of a Redis server: name the node's."""
    from urllib.parse import urlsplit

    return f"piaojia:row-cache:{urlsplit(redis_url).path.lstrip('/') or '0'}"


def _current(app) -> _State | None:
    global _state
    redis_url = app.config.get("REDIS_URL")
    if not redis_url or not app.config.get("ROW_CACHE", True):
        return None
    state = _state
    if state is None or state.pid != os.getpid() or state.redis_url != redis_url:
        with _state_lock:
            state = _state
            if state is None or state.pid != os.getpid() or state.redis_url != redis_url:
                if state is not None and state.pid == os.getpid():
                    state.stopped = True
                _state = state = _State(redis_url, channel_for(redis_url))
    return state


def get(model, key):
    """`db.session.get(model, key)`, served from this process's copy when it has one."""
    from flask import current_app

    from backend.extensions import db

    if key is None:
        return None
    state = _current(current_app)
    table = model.__tablename__
    if state is None or not state.ready:
        return db.session.get(model, key)
    generation = state.generation
    values = state.rows.get((table, str(key)))
    if values is not None:
        instance = model(**values)
        make_transient_to_detached(instance)
        return db.session.merge(instance, load=False)
    instance = db.session.get(model, key)
    if instance is not None:
        values = {attr.key: getattr(instance, attr.key) for attr in model.__mapper__.column_attrs}
        with state.lock:
            if state.ready and state.generation == generation:
                state.rows[(table, str(key))] = values
    return instance


def invalidate_after_commit(model, key=None):
    """Drops rows of `model` (one key, or all of them) on every process once the current
    transaction commits: for changes made with Core statements, which the ORM hook misses."""
    from backend.extensions import db

    db.session.info.setdefault(PENDING_KEY, set()).add((model.__tablename__, None if key is None else str(key)))


def publish(app, changes) -> None:
    """Announces committed changes; this process drops them at once, the others on receipt."""
    state = _current(app)
    if state is None:
        return
    for table, key in changes:
        state.drop(table, key)
    try:
        from redis import Redis

        client = app.extensions.get("piaojia_redis") or Redis.from_url(app.config["REDIS_URL"])
        with client.pipeline(transaction=False) as pipe:
            for table, key in changes:
                pipe.publish(state.channel, json.dumps({"table": table, "key": key}))
            pipe.execute()
    except Exception as exc:  # noqa: BLE001 - Redis unreachable: the other processes' listeners are
        # disconnected too, and a listener that reconnects drops everything it holds.
        log.error("row cache invalidation not published", extra={"error": type(exc).__name__})


@event.listens_for(Session, "after_flush")
def _collect_changes(session, _context):
    if not _CACHED:
        return
    for instance in list(session.dirty) + list(session.deleted):
        table = getattr(instance, "__tablename__", None)
        if table not in _CACHED:
            continue
        if instance in session.deleted or session.is_modified(instance, include_collections=False):
            identity = instance.__mapper__.primary_key_from_instance(instance)
            session.info.setdefault(PENDING_KEY, set()).add((table, str(identity[0])))


@event.listens_for(Session, "after_commit")
def _announce(session):
    changes = session.info.pop(PENDING_KEY, None)
    if changes:
        from flask import current_app, has_app_context

        if has_app_context():
            publish(current_app._get_current_object(), changes)


@event.listens_for(Session, "after_rollback")
def _forget(session):
    session.info.pop(PENDING_KEY, None)
