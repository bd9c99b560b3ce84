"""The asyncio stream server (backend/notifications/stream_server.py), driven through its
ASGI interface: the same authentication, Last-Event-ID replay and frames as the web app's
stream; many streams of one process sharing one Redis subscription."""
import asyncio
import json


from backend.notifications.stream_server import QUEUE_LIMIT, Fanout, StreamServer
from tests.support import UnitClient, citizen_login

ZHANG_SAN_ID = "460200199001011234"


async def eventually(predicate, timeout=5.0):
    """Waits (without blocking the loop) until predicate() is true."""
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


def scope(headers=None, query=b"", path="/api/v1/me/stream", client=("127.0.0.1", 50000)):
    return {"type": "http", "method": "GET", "path": path, "query_string": query, "client": client,
            "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}


class Client:
    """One ASGI request: collects what the server sends; disconnects when told to."""

    def __init__(self, server, request_scope, frames_wanted=None):
        self.server, self.scope, self.frames_wanted = server, request_scope, frames_wanted
        self.start, self.body, self.gone = None, b"", asyncio.Event()

    async def receive(self):
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message):
        if message["type"] == "http.response.start":
            self.start = message
        else:
            self.body += message.get("body", b"")
            if self.frames_wanted is not None and len(self.frames()) >= self.frames_wanted:
                self.gone.set()

    def frames(self):
        found = []
        for block in self.body.decode().split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
            if "event" in fields:
                found.append({"id": fields["id"], "event": fields["event"], "data": json.loads(fields["data"])})
        return found

    async def run(self, timeout=10):
        await asyncio.wait_for(self.server(self.scope, self.receive, self.send), timeout)
        return self


def test_refusals_are_problem_details_and_other_paths_are_not_served(app_ctx):
    server = StreamServer(app_ctx)

    async def go():
        missing = await Client(server, scope()).run()
        garbage = await Client(server, scope(query=b"ticket=garbage")).run()
        elsewhere = await Client(server, scope(path="/api/v1/me/receipts")).run()
        return missing, garbage, elsewhere

    missing, garbage, elsewhere = asyncio.run(go())
    assert missing.start["status"] == 401 and json.loads(missing.body)["code"] == "missing_token"
    problem = json.loads(garbage.body)
    assert garbage.start["status"] == 401 and problem["code"] == "invalid_stream_ticket" and problem["title"] == "连接凭证无效，请重新连接"
    assert (b"content-type", b"application/problem+json") in garbage.start["headers"]
    assert elsewhere.start["status"] == 404


def test_replays_after_last_event_id_then_pushes_new_events(app_ctx, client, operator, monkeypatch):
    zhang = citizen_login(client, "zhangsan")
    hospital = operator.register_hospital()
    unit = UnitClient.open(operator)
    _, first = hospital.issue(payer_id=ZHANG_SAN_ID)
    hospital.issue(payer_id=ZHANG_SAN_ID)
    items = client.get("/api/v1/me/notifications", headers=zhang).json["items"]
    monkeypatch.setitem(app_ctx.config, "STREAM_MAX_SECONDS", 8)
    server = StreamServer(app_ctx)  # no Redis in this app: the stream polls the inbox

    async def go():
        stream = Client(server, scope({**zhang, "Last-Event-ID": items[-1]["id"]}), frames_wanted=2)
        task = asyncio.ensure_future(stream.run())
        await asyncio.sleep(0.3)
        await asyncio.to_thread(unit.lock_with_proof, first)  # a new event while the stream is open
        return await task

    stream = asyncio.run(go())
    assert stream.start["status"] == 200 and (b"content-type", b"text/event-stream; charset=utf-8") in stream.start["headers"]
    assert [f["event"] for f in stream.frames()] == ["receipt.issued", "receipt.locked"]
    assert stream.frames()[0]["id"] == items[0]["id"]  # the one after Last-Event-ID


def test_a_ticket_opens_the_stream_once(app_ctx, client, monkeypatch):
    zhang = citizen_login(client, "zhangsan")
    ticket = client.post("/api/v1/me/stream-tickets", headers=zhang).json["ticket"]
    monkeypatch.setitem(app_ctx.config, "STREAM_MAX_SECONDS", 0.5)
    server = StreamServer(app_ctx)

    async def go():
        return (await Client(server, scope(query=f"ticket={ticket}".encode())).run(),
                await Client(server, scope(query=f"ticket={ticket}".encode())).run())

    opened, again = asyncio.run(go())
    assert opened.start["status"] == 200 and b": connected" in opened.body
    assert again.start["status"] == 401


def redis_backed(app, redis_url):
    """A stream server on Redis (the test app has none) and a client to publish with."""
    from redis import Redis

    server = StreamServer(app)
    server.fanout = Fanout(redis_url)
    return server, Redis.from_url(redis_url)


def test_one_subscription_fans_out_to_every_stream_of_the_citizen(app_ctx, client, redis_url, monkeypatch):
    zhang, li = citizen_login(client, "zhangsan"), citizen_login(client, "lisi")
    monkeypatch.setitem(app_ctx.config, "STREAM_MAX_SECONDS", 10)
    server, publisher = redis_backed(app_ctx, redis_url)

    async def go():
        mine = [Client(server, scope(zhang), frames_wanted=1) for _ in range(50)]
        other = Client(server, scope(li), frames_wanted=1)
        tasks = [asyncio.ensure_future(c.run()) for c in [*mine, other]]
        await eventually(lambda: sum(map(len, server.fanout.listeners.values())) == 51)
        assert len(server.fanout.listeners) == 2  # one channel per citizen, however many streams
        channel = next(c for c, queues in server.fanout.listeners.items() if len(queues) == 50)
        payload = {"id": "evt-1", "type": "receipt.issued", "title": "收到一张新的电子票据"}
        await asyncio.to_thread(publisher.publish, channel, json.dumps(payload, ensure_ascii=False))
        await asyncio.gather(*tasks[:-1])
        other.gone.set()
        await tasks[-1]
        return mine, other, channel

    mine, other, channel = asyncio.run(go())
    assert all([f["id"] for f in c.frames()] == ["evt-1"] for c in mine)
    assert other.frames() == []
    assert server.fanout.listeners == {}  # every stream left, every channel unsubscribed


class SlowClient(Client):
    """A client that stops reading after the first chunk: the server's writes wait."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reading = asyncio.Event()

    async def send(self, message):
        if message["type"] == "http.response.body" and self.body:
            await self.reading.wait()
        await super().send(message)


def test_a_stream_that_cannot_keep_up_is_closed_not_buffered(app_ctx, client, redis_url, monkeypatch):
    zhang = citizen_login(client, "zhangsan")
    monkeypatch.setitem(app_ctx.config, "STREAM_MAX_SECONDS", 10)
    server, publisher = redis_backed(app_ctx, redis_url)

    async def go():
        stream = SlowClient(server, scope(zhang))
        task = asyncio.ensure_future(stream.run())
        await eventually(lambda: bool(server.fanout.listeners))
        (channel, queues), = server.fanout.listeners.items()
        queue = next(iter(queues))
        for n in range(QUEUE_LIMIT * 4):
            await asyncio.to_thread(publisher.publish, channel, json.dumps({"id": f"evt-{n}", "type": "receipt.issued"}))
        await eventually(queue.full)
        held = queue.qsize()
        stream.reading.set()
        await task
        return stream, held

    stream, held = asyncio.run(go())
    # What waits for a stalled client is bounded, and the stream ends instead of catching up
    # (the browser reconnects with Last-Event-ID and replays from the inbox).
    assert held <= QUEUE_LIMIT
    assert len(stream.frames()) < QUEUE_LIMIT * 4
    assert server.fanout.listeners == {}


def test_metrics_count_this_process_streams_for_operators_only(app_ctx, client, monkeypatch):
    zhang = citizen_login(client, "zhangsan")
    monkeypatch.setitem(app_ctx.config, "STREAM_MAX_SECONDS", 5)
    server = StreamServer(app_ctx)

    def open_streams(text):
        return float(next(line.split()[-1] for line in text.splitlines() if line.startswith("piaojia_sse_connections ")))

    async def go():
        before = open_streams((await Client(server, scope(path="/metrics")).run()).body.decode())
        stream = Client(server, scope(zhang))
        task = asyncio.ensure_future(stream.run())
        await eventually(lambda: stream.start is not None)
        during = await Client(server, scope(path="/metrics")).run()
        outsider = await Client(server, scope(path="/metrics", client=("203.0.113.9", 40000))).run()
        stream.gone.set()
        await task
        return before, during, outsider

    before, during, outsider = asyncio.run(go())
    assert during.start["status"] == 200 and open_streams(during.body.decode()) == before + 1
    assert outsider.start["status"] == 401


def test_without_redis_the_stream_is_refused_with_503_and_retry_after(app_ctx, client):
    zhang = citizen_login(client, "zhangsan")
    server = StreamServer(app_ctx)
    server.fanout = Fanout("redis://127.0.0.1:1/0")  # nothing listens there

    refused = asyncio.run(Client(server, scope(zhang)).run())
    assert refused.start["status"] == 503 and (b"retry-after", b"5") in refused.start["headers"]
    problem = json.loads(refused.body)
    assert problem["code"] == "stream_unavailable" and problem["title"] == "实时通知暂不可用，请稍后重试"
    assert server.fanout.listeners == {}
