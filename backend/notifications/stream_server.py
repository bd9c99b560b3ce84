"""The citizens' live stream as an asyncio (ASGI) server: thousands of open streams per
process, no thread per stream (docs/decisions/stream-server.md).

    granian --interface asgi --factory backend.stream_app:create_app

It serves `GET /api/v1/me/stream` exactly as the web app does (same authentication, same
Last-Event-ID resume from the inbox, same frames), `/healthz`, and `/metrics` (the web app's
view, so its open streams are counted); the reverse proxy sends
that one path here. Signing in and reading the inbox are the web app's own code, run on a
small thread pool inside a Flask request context; only waiting is asynchronous. Live
events come from one Redis pub/sub connection per process, fanned out to the streams of
each citizen; a stream that cannot keep up (its queue full) is closed, and the browser's
EventSource reconnects with Last-Event-ID and replays from the inbox, so nothing is lost.
"""
import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from backend.notifications import stream as frames
from backend.notifications.channels import stream_channel

log = logging.getLogger(__name__)
STREAM_PATH = "/api/v1/me/stream"
QUEUE_LIMIT = 256
HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]


class Fanout:
    """One Redis subscription per process; each citizen's channel subscribed while at least
    one of their streams is open."""

    def __init__(self, redis_url: str):
        from redis import asyncio as aioredis

        self.redis = aioredis.Redis.from_url(redis_url)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.listeners: dict[str, set[asyncio.Queue]] = {}
        self.reader: asyncio.Task | None = None
        self.lock = asyncio.Lock()

    async def join(self, channel: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(QUEUE_LIMIT)
        async with self.lock:
            if channel not in self.listeners:
                await self.pubsub.subscribe(channel)  # raises while Redis is away: nothing registered
            self.listeners.setdefault(channel, set()).add(queue)
            if self.reader is None or self.reader.done():
                self.reader = asyncio.create_task(self._read())
        return queue

    async def leave(self, channel: str, queue: asyncio.Queue):
        async with self.lock:
            queues = self.listeners.get(channel)
            if queues is None:
                return
            queues.discard(queue)
            if not queues:
                del self.listeners[channel]
                try:
                    await self.pubsub.unsubscribe(channel)
                except Exception:  # noqa: BLE001 - Redis away: the subscription went with the connection
                    log.warning("stream fan-out could not unsubscribe", extra={"channel_count": len(self.listeners)})

    async def _read(self):
        while True:
            try:
                message = await self.pubsub.get_message(timeout=1.0)
            except Exception as exc:  # noqa: BLE001 - every stream ends; browsers reconnect and replay
                log.warning("stream fan-out lost Redis", extra={"error": type(exc).__name__})
                for queues in list(self.listeners.values()):
                    for queue in queues:
                        _close(queue)
                await asyncio.sleep(1.0)
                continue
            if message is None or message.get("type") != "message":
                if not self.listeners:
                    await asyncio.sleep(0.05)
                continue
            channel = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
            payload = json.loads(message["data"])
            for queue in list(self.listeners.get(channel, ())):
                try:
                    queue.put_nowait(payload)
                except asyncio.QueueFull:
                    _close(queue)


CLOSE = object()


def _close(queue: asyncio.Queue):
    """Ends the stream of this queue (the browser reconnects and replays from the inbox)."""
    while True:
        try:
            queue.put_nowait(CLOSE)
            return
        except asyncio.QueueFull:
            queue.get_nowait()


class StreamServer:
    def __init__(self, flask_app):
        self.flask_app = flask_app
        self.pool = ThreadPoolExecutor(max_workers=flask_app.config["STREAM_SERVER_THREADS"], thread_name_prefix="stream-db")
        redis_url = flask_app.config.get("REDIS_URL")
        self.fanout = Fanout(redis_url) if redis_url else None
        self.max_seconds = flask_app.config["STREAM_MAX_SECONDS"]

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            return
        if scope["path"] == "/healthz":
            return await _answer(send, 200, b"application/json", b'{"status": "ok"}')
        if scope["path"] == "/metrics":  # the web app's own view: same access rule, this process's streams
            status, content_type, body = await self._run(self._metrics, scope)
            return await _answer(send, status, content_type.encode(), body)
        if scope["path"] != STREAM_PATH or scope["method"] != "GET":
            return await _answer(send, 404, b"application/problem+json", json.dumps(
                {"type": "urn:piaojia:problem:not_found", "title": "资源不存在", "status": 404, "code": "not_found",
                 "detail": "This server only serves the live stream."}, ensure_ascii=False).encode())
        await self._stream(scope, receive, send)

    async def _lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.pool.shutdown(wait=False)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _run(self, func, *args):
        return asyncio.get_running_loop().run_in_executor(self.pool, func, *args)

    def _open(self, scope):
        """Authenticates the request as the web app does: (status, body) of a refusal, or
        (None, (payer_hash, resume position))."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        query = scope.get("query_string", b"").decode("latin-1")
        from backend.common.errors import DomainError, problem
        from backend.extensions import db

        client = (scope.get("client") or ("", 0))[0]
        with self.flask_app.test_request_context(STREAM_PATH, headers=headers, query_string=query, environ_base={"REMOTE_ADDR": client}):
            try:
                payer_hash, position = frames.open_stream()
                return None, (payer_hash, position)
            except DomainError as exc:
                response = problem(exc.status, exc.code, exc.title, exc.detail, **exc.extra)
                return exc.status, response.get_data()
            finally:
                db.session.remove()

    def _metrics(self, scope):
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        client = (scope.get("client") or ("", 0))[0]
        response = self.flask_app.test_client().get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": client})
        return response.status_code, response.content_type, response.get_data()

    def _backlog(self, payer_hash, position):
        from backend.extensions import db

        with self.flask_app.app_context():
            return frames.backlog(db.engine, payer_hash, position)

    async def _stream(self, scope, receive, send):
        status, opened = await self._run(self._open, scope)
        if status is not None:
            return await _answer(send, status, b"application/problem+json", opened)
        payer_hash, position = opened
        channel = stream_channel(payer_hash, self.flask_app.config)
        try:
            queue = await self.fanout.join(channel) if self.fanout else None  # before the replay: nothing falls in between
        except Exception:  # noqa: BLE001 - Redis unreachable: the browser retries after Retry-After
            log.warning("stream refused: Redis unreachable")
            return await _answer(send, 503, b"application/problem+json", json.dumps(
                {"type": "urn:piaojia:problem:stream_unavailable", "title": "实时通知暂不可用，请稍后重试", "status": 503,
                 "code": "stream_unavailable", "detail": "Live events are unavailable for a moment.", "retry_after": 5},
                ensure_ascii=False).encode(), extra_headers=[(b"retry-after", b"5")])
        gone = asyncio.Event()
        watcher = asyncio.create_task(_watch_disconnect(receive, gone))
        frames.SSE_CONNECTIONS.inc()
        try:
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            await _chunk(send, "retry: 3000\n: connected\n\n")
            sent = set()
            for position, payload in await self._run(self._backlog, payer_hash, position):
                sent.add(payload["id"])
                await _chunk(send, frames.frame(payload))
            deadline = time.monotonic() + self.max_seconds
            while not gone.is_set() and time.monotonic() < deadline:
                wait = min(frames.HEARTBEAT_SECONDS, deadline - time.monotonic())
                fresh = await self._next(queue, payer_hash, position, wait, gone)
                if fresh is CLOSE:
                    break
                if fresh is None:
                    await _chunk(send, ": heartbeat\n\n")
                    continue
                if queue is None:
                    position = fresh[-1][0]
                    fresh = [payload for _, payload in fresh]
                for payload in fresh:
                    if payload["id"] not in sent:
                        sent.add(payload["id"])
                        await _chunk(send, frames.frame(payload))
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client went away mid-write
        finally:
            frames.SSE_CONNECTIONS.dec()
            watcher.cancel()
            if queue is not None:
                await self.fanout.leave(channel, queue)

    async def _next(self, queue, payer_hash, position, wait, gone):
        """The next live events, None after `wait` seconds without any, CLOSE to end."""
        if queue is None:  # no Redis: poll the inbox
            slept = 0.0
            while slept < wait and not gone.is_set():
                await asyncio.sleep(frames.POLL_SECONDS)
                slept += frames.POLL_SECONDS
                rows = await self._run(self._backlog, payer_hash, position)
                if rows:
                    return rows
            return None
        getter = asyncio.ensure_future(queue.get())
        stopper = asyncio.ensure_future(gone.wait())
        done, _ = await asyncio.wait({getter, stopper}, timeout=max(wait, 0.01), return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if getter not in done:
            getter.cancel()
            return CLOSE if gone.is_set() else None
        first = getter.result()
        if first is CLOSE:
            return CLOSE
        batch = [first]
        while not queue.empty():
            item = queue.get_nowait()
            if item is CLOSE:
                return CLOSE
            batch.append(item)
        return batch


async def _watch_disconnect(receive, gone: asyncio.Event):
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            gone.set()
            return


async def _chunk(send, text: str):
    await send({"type": "http.response.body", "body": text.encode(), "more_body": True})


async def _answer(send, status: int, content_type: bytes, body: bytes, extra_headers=()):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *extra_headers]})
    await send({"type": "http.response.body", "body": body})
