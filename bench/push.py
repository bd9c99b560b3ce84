"""bench/push: latency from an issuer's webhook being accepted (its 202, after commit) to
the event arriving on the citizen's Server-Sent Events stream, with `--listeners` citizens
holding a stream open each, through a real RQ worker, PostgreSQL, Redis pub/sub and the
asyncio stream server (granian ASGI); the web app (granian WSGI) takes the webhooks.

    python -m bench.push [--events 1000] [--rate 40] [--listeners 1]
    python -m bench.push --listeners 2000 --rate 100 --events 3000

Each event is a receipt for one listening citizen (round robin). Reported: latency
percentiles, events lost, the stream server's memory before and with the streams open.
"""
import argparse
import asyncio
import json
import threading
import time

import aiohttp
import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from bench import harness
from bench.ingest import REDIS_URL, register_hospitals

PAYER_ID = "460200199001011234"


def payer_id(n: int) -> str:
    return PAYER_ID if n == 0 else f"4602001991{n:07d}X"


def citizen_token(port, key, kid, n=0) -> str:
    now = int(time.time())
    assertion = jwt.encode({"iss": "haiyiban", "aud": "piaojia", "sub": f"bench-citizen-{n}", "name": "张三", "id_type": "resident_id",
                            "id_number": payer_id(n), "iat": now, "exp": now + 300, "jti": f"bench-{n}-{now}-{time.perf_counter_ns()}"}, key, algorithm="ES256", headers={"kid": kid})
    status, body = harness.request("POST", port, "/api/v1/auth/citizen", {"assertion": assertion})
    assert status == 200, body
    return body["access_token"]


class Listeners:
    """`tokens` streams held open by one asyncio loop on a thread of its own; each frame's
    arrival time is recorded by receipt key."""

    def __init__(self, port, tokens):
        self.port, self.tokens = port, tokens
        self.arrivals, self.connected, self.failed = {}, 0, 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.tasks = asyncio.run_coroutine_threadsafe(self._open_all(), self.loop)

    async def _open_all(self):
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None))
        return [asyncio.ensure_future(self._listen(token)) for token in self.tokens]

    async def _listen(self, token):
        try:
            async with self.session.get(f"http://127.0.0.1:{self.port}/api/v1/me/stream",
                                        headers={"authorization": f"Bearer {token}", "accept": "text/event-stream"}) as resp:
                if resp.status != 200:
                    self.failed += 1
                    return
                self.connected += 1
                async for line in resp.content:
                    if line.startswith(b"data: "):
                        self.arrivals.setdefault(json.loads(line[6:])["receipt_key"], time.perf_counter())
        except (aiohttp.ClientError, asyncio.CancelledError):
            pass

    def wait_connected(self, timeout=120):
        deadline = time.monotonic() + timeout
        while self.connected + self.failed < len(self.tokens) and time.monotonic() < deadline:
            time.sleep(0.2)

    def close(self):
        async def stop():
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()
            await self.session.close()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)


def push(port, deliveries, rate, accepted):
    """Posts the deliveries at `rate` per second from 4 connections, recording when each was
    accepted (202) by receipt key; returns the seconds it took."""
    started = time.perf_counter()
    requests_ = [("POST", f"/api/v1/issuers/{issuer_id}/webhook", body, headers) for issuer_id, body, headers, _ in deliveries]
    _, failures, answered = harness.paced(port, requests_, rate, threads=4)
    assert failures == 0, f"{failures} deliveries refused"
    for i, (_, _, _, data) in enumerate(deliveries):
        accepted[f"{data['code']}-{data['number']}"] = answered[i]
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=40.0, help="receipts per second pushed")
    parser.add_argument("--listeners", type=int, default=1, help="citizens with a stream open")
    parser.add_argument("--port", type=int, default=8703)
    args = parser.parse_args()
    idp_key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(idp_key.public_key()))
    database_url, env = harness.production_node(
        "piaojia_bench", REDIS_URL, HAIYIBAN_JWKS=json.dumps({"keys": [{**jwk, "kid": "bench", "alg": "ES256"}]}), STREAM_MAX_SECONDS="3600")
    accepted = {}
    stream_port = args.port + 1
    with harness.granian(env, args.port, 2, 2), harness.stream_server(env, stream_port) as streams, harness.worker(env):
        hospitals = register_hospitals(args.port, env)
        tokens = [citizen_token(args.port, idp_key, "bench", n) for n in range(args.listeners)]
        deliveries = prepare_for_payers(hospitals, args.events, args.listeners)
        rss_idle = sum(harness.rss_mb(pid) for pid in harness.web_pids(streams))
        listeners = Listeners(stream_port, tokens)
        listeners.wait_connected()
        time.sleep(1.0)
        rss_open = sum(harness.rss_mb(pid) for pid in harness.web_pids(streams))
        elapsed = push(args.port, deliveries, args.rate, accepted)
        deadline = time.perf_counter() + 60
        while len(listeners.arrivals) < len(accepted) and time.perf_counter() < deadline:
            time.sleep(0.1)
        rss_end = sum(harness.rss_mb(pid) for pid in harness.web_pids(streams))
        listeners.close()
    arrivals = listeners.arrivals
    latencies = [arrivals[k] - accepted[k] for k in accepted if k in arrivals]
    result = {"listeners": args.listeners, "connected": listeners.connected, "refused": listeners.failed,
              "events": len(accepted), "received": len(latencies), "lost": len(accepted) - len(latencies),
              "rate_per_s": args.rate, "achieved_rate_per_s": round(len(accepted) / elapsed, 1), **harness.percentiles(latencies),
              "stream_server_rss_mb": {"no_streams": round(rss_idle, 1), "streams_open": round(rss_open, 1), "after_push": round(rss_end, 1),
                                       "kb_per_stream": round((rss_open - rss_idle) * 1024 / max(args.listeners, 1), 1)},
              "path": "202 from the issuer webhook (granian WSGI) → outbox → RQ worker → inbox row → Redis pub/sub → stream server (granian ASGI) → SSE frame"}
    print(json.dumps(result, ensure_ascii=False))
    print(f"written {harness.write_result('push', {'machine': harness.machine(), 'results': [result]})}")
    assert len(latencies) == len(accepted), "events lost"


def prepare_for_payers(hospitals, count, payers):
    import copy
    import uuid
    from datetime import datetime, timezone

    import rfc8785
    from standardwebhooks import Webhook

    from backend.receipts.signing import sign_es256
    from bench.ingest import sample

    out = []
    for i in range(count):
        h = hospitals[i % len(hospitals)]
        data = sample(h["credit_code"], h["name"], f"{i + 1:010d}", payer_id(i % payers))
        data["signature"] = {"alg": "ES256", "value": sign_es256(h["key"], rfc8785.dumps(data))}
        body = json.dumps({"type": "receipt.issued", "data": data}, ensure_ascii=False)
        msg_id = f"msg_{uuid.uuid4().hex}"
        now = datetime.now(timezone.utc)
        headers = {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": Webhook(h["secret"]).sign(msg_id, now, body)}
        out.append((h["issuer_id"], body.encode(), headers, copy.deepcopy(data)))
    return out


if __name__ == "__main__":
    main()
