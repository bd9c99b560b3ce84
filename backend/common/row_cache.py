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

from backend.common.redis_client import node_namespace

log = logging.getLogger(__name__)
PENDING_KEY = "piaojia_row_cache_invalidate"
MAX_ENTRIES = 50_000
_CACHED: dict[str, type] = {}  # table name → model of the rows kept
_CHILDREN: dict[str, tuple[str, str]] = {}  # table → (parent table, foreign key attribute)
_WATCHED: dict[str, str] = {}  # table → namespace of `memo` values any change of it drops


def cached_model(model):
    """Class decorator: rows of this model may be kept by `get`; every ORM change of one
    (flushed update or delete) drops it on every process after commit."""
    _CACHED[model.__tablename__] = model
    return model


def part_of(parent_table: str, foreign_key: str):
    """Class decorator for rows loaded with their parent (`get(…, relations=…)`): adding,
    changing or deleting one drops the parent's entry."""
    def register(model):
        _CHILDREN[model.__tablename__] = (parent_table, foreign_key)
        return model

    return register


def drops(namespace: str):
    """Class decorator: any change of a row of this model drops every `memo` value of
    `namespace` (values computed from many of its rows)."""
    def register(model):
        _WATCHED[model.__tablename__] = namespace
        return model

    return register


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


def channel_for(redis_url: str, namespace: str = "46") -> str:
    """Pub/sub channels are shared by every database of a Redis server: name the node's."""
    from urllib.parse import urlsplit

    return f"piaojia:{namespace}:row-cache:{urlsplit(redis_url).path.lstrip('/') or '0'}"


def _current(app) -> _State | None:
    global _state
    redis_url = app.config.get("REDIS_URL")
    if not redis_url or not app.config["ROW_CACHE"]:
        return None
    channel = channel_for(redis_url, node_namespace(app.config))
    state = _state
    if not _serves(state, redis_url, channel):
        with _state_lock:
            state = _state
            if not _serves(state, redis_url, channel):
                if state is not None and state.pid == os.getpid():
                    state.stopped = True
                _state = state = _State(redis_url, channel)
    return state


def _serves(state: "_State | None", redis_url: str, channel: str) -> bool:
    """This process's live state for this Redis and node (a forked child, another URL or
    another node needs its own)."""
    return state is not None and not state.stopped and state.pid == os.getpid() and state.redis_url == redis_url \
        and state.channel == channel


def get(model, key, relations: tuple[str, ...] = ()):
    """`db.session.get(model, key)` — with `relations` loaded too — served from this
    process's copy when it has one."""
    from flask import current_app
    from sqlalchemy.orm import joinedload

    from backend.extensions import db

    if key is None:
        return None
    options = [joinedload(getattr(model, name)) for name in relations]
    state = _current(current_app)
    if state is None or not state.ready:
        return db.session.get(model, key, options=options)
    entry = (model.__tablename__, str(key))
    generation = state.generation
    cached = state.rows.get(entry, {}).get(relations)
    if cached is not None:
        return db.session.merge(_rebuild(model, cached), load=False)
    instance = db.session.get(model, key, options=options)
    if instance is not None:
        snapshot = (_columns(instance), {name: [_columns(child) for child in getattr(instance, name)] for name in relations})
        with state.lock:
            if state.ready and state.generation == generation:
                state.rows.setdefault(entry, {})[relations] = snapshot
    return instance


def memo(namespace: str, key, compute):
    """`compute()` — a pure value read from tables registered with `drops(namespace)` —
    kept per process under `key` until one of those tables changes."""
    from flask import current_app

    state = _current(current_app)
    if state is None or not state.ready:
        return compute()
    entry = (namespace, str(key))
    generation = state.generation
    found = state.rows.get(entry)
    if found is not None:
        return found[()]
    value = compute()
    with state.lock:
        if state.ready and state.generation == generation:
            if len(state.rows) >= MAX_ENTRIES:  # keys chosen by callers (a receipt's code): bounded
                state.rows.clear()
            state.rows[entry] = {(): value}
    return value


def _columns(instance) -> dict:
    return {attr.key: getattr(instance, attr.key) for attr in instance.__mapper__.column_attrs}


def _rebuild(model, snapshot):
    from sqlalchemy.orm.attributes import set_committed_value

    values, relations = snapshot
    instance = model(**values)
    make_transient_to_detached(instance)
    for name, rows in relations.items():
        child_model = getattr(model, name).property.mapper.class_
        children = []
        for row in rows:
            child = child_model(**row)
            make_transient_to_detached(child)
            children.append(child)
        set_committed_value(instance, name, children)
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
    if not (_CACHED or _CHILDREN or _WATCHED):
        return
    pending = session.info.setdefault(PENDING_KEY, set())
    for instance in [*session.new, *session.dirty, *session.deleted]:
        table = getattr(instance, "__tablename__", None)
        if table not in _CACHED and table not in _CHILDREN and table not in _WATCHED:
            continue
        if instance in session.dirty and not session.is_modified(instance, include_collections=False):
            continue
        if table in _CACHED and instance not in session.new:
            pending.add((table, str(instance.__mapper__.primary_key_from_instance(instance)[0])))
        if table in _CHILDREN:
            parent_table, foreign_key = _CHILDREN[table]
            pending.add((parent_table, str(getattr(instance, foreign_key))))
        if table in _WATCHED:
            pending.add((_WATCHED[table], None))


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
