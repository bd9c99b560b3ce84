"""bench/push: latency from an issuer's webhook being accepted (its 202) to the event
arriving on the citizen's Server-Sent Events stream, with a real RQ worker, gunicorn,
PostgreSQL and Redis pub/sub.

    python -m bench.push [--events 1000] [--rate 40]
"""
import argparse
import http.client
import json
import threading
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from bench import harness
from bench.ingest import REDIS_URL, register_hospitals

PAYER_ID = "460200199001011234"


def citizen_token(port, key, kid) -> str:
    now = int(time.time())
    assertion = jwt.encode({"iss": "haiyiban", "aud": "piaojia", "sub": "bench-citizen", "name": "张三", "id_type": "resident_id",
                            "id_number": PAYER_ID, "iat": now, "exp": now + 300}, key, algorithm="ES256", headers={"kid": kid})
    status, body = harness.request("POST", port, "/api/v1/auth/citizen", {"assertion": assertion})
    assert status == 200, body
    return body["access_token"]


def listen(port, token, arrivals, ready, stop):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", "/api/v1/me/stream", headers={"authorization": f"Bearer {token}", "accept": "text/event-stream"})
    resp = conn.getresponse()
    ready.set()
    buffer = b""
    while not stop.is_set():
        chunk = resp.read1(65536)
        if not chunk:
            break
        buffer += chunk
        while b"\n\n" in buffer:
            frame, buffer = buffer.split(b"\n\n", 1)
            for line in frame.decode().splitlines():
                if line.startswith("data: "):
                    payload = json.loads(line[6:])
                    arrivals.setdefault(payload["receipt_key"], time.perf_counter())
    conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=40.0, help="receipts per second pushed")
    parser.add_argument("--port", type=int, default=8703)
    args = parser.parse_args()
    idp_key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(idp_key.public_key()))
    database_url, env = harness.production_node(
        "piaojia_bench", REDIS_URL, HAIYIBAN_JWKS=json.dumps({"keys": [{**jwk, "kid": "bench", "alg": "ES256"}]}), STREAM_MAX_SECONDS="600")
    accepted, arrivals = {}, {}
    with harness.gunicorn(env, args.port, 2, 8), harness.worker(env):
        hospitals = register_hospitals(args.port, env)
        deliveries = prepare_for_one_payer(hospitals, args.events)
        token = citizen_token(args.port, idp_key, "bench")
        ready, stop = threading.Event(), threading.Event()
        listener = threading.Thread(target=listen, args=(args.port, token, arrivals, ready, stop), daemon=True)
        listener.start()
        ready.wait(10)
        time.sleep(0.5)
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
        interval = 1.0 / args.rate
        next_at = time.perf_counter()
        for issuer_id, body, headers, data in deliveries:
            conn.request("POST", f"/api/v1/issuers/{issuer_id}/webhook", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 202
            accepted[f"{data['code']}-{data['number']}"] = time.perf_counter()
            next_at += interval
            time.sleep(max(0.0, next_at - time.perf_counter()))
        deadline = time.perf_counter() + 60
        while len(arrivals) < len(accepted) and time.perf_counter() < deadline:
            time.sleep(0.1)
        stop.set()
    latencies = [arrivals[k] - accepted[k] for k in accepted if k in arrivals]
    result = {"events": len(accepted), "received": len(latencies), "rate_per_s": args.rate, **harness.percentiles(latencies),
              "path": "202 from the issuer webhook → outbox → RQ worker → inbox row → Redis pub/sub → SSE frame"}
    print(json.dumps(result, ensure_ascii=False))
    print(f"written {harness.write_result('push', {'machine': harness.machine(), 'results': [result]})}")
    assert len(latencies) == len(accepted), "events lost"


def prepare_for_one_payer(hospitals, count):
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
        data = sample(h["credit_code"], h["name"], f"{i + 1:010d}", PAYER_ID)
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
