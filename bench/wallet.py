"""bench/wallet: the citizen's wallet list with millions of receipts stored.

    python -m bench.wallet [--rows 10000000] [--requests 500]

Fills `receipts` server-side (generate_series: many payers, a few hundred receipts for the
measured citizen), then times `GET /api/v1/me/receipts` pages — first page, deep keyset
pages, and filtered (status, issuer, date range) — through gunicorn, and records the
PostgreSQL plan of the list query.
"""
import argparse
import json
import time

import jwt
import psycopg
from cryptography.hazmat.primitives.asymmetric import ec

from bench import harness
from backend.common.crypto import PiiCipher

PAYER_ID = "460200199001011234"
ELEMENTS = json.dumps({
    "code": "46060125", "title": "海南省医疗门诊收费票据（电子）", "kind": "outpatient", "issue_date": "2025-11-20",
    "issuer": {"name": "三亚中心医院", "credit_code": "12460200428201234X"}, "payer": {"name": "张三", "id_type": "resident_id"},
    "total_amount": "356.80", "items": [{"name": "西药费", "amount": "356.80", "quantity": "1", "rate": "356.80"}],
}, ensure_ascii=False)


def fill(url, rows, payer_hash, enc, mine):
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO issuers (id, name, credit_code, province, status, created_at) "
                     "VALUES ('bench-issuer', '三亚中心医院', '12460200428201234X', '46', 'active', now())")
        batch = 1_000_000
        for start in range(0, rows, batch):
            stop = min(rows, start + batch)
            conn.execute(
                "INSERT INTO receipts (code, number, province, issuer_id, check_code, kind, issue_date, issued_at, total_fen,"
                " payer_id_type, payer_hash, payer_id_enc, elements, content_hash, issuer_signature, platform_signature,"
                " lifecycle, reimbursed_fen, created_at, updated_at) "
                "SELECT '46060125', lpad(i::text, 10, '0'), '46', 'bench-issuer', 'ABC123', 'outpatient',"
                " date '2025-01-01' + (i %% 330), now(), 35680, 'resident_id',"
                " CASE WHEN i %% %(every)s = 0 THEN %(mine)s ELSE md5(i::text) || md5((i + 1)::text) END,"
                " %(enc)s, %(elements)s::jsonb, md5(i::text), '{}'::jsonb, '{}'::jsonb, 'issued', 0, now(), now()"
                " FROM generate_series(%(start)s, %(stop)s - 1) AS i",
                {"every": max(rows // mine, 1), "mine": payer_hash, "enc": enc, "elements": ELEMENTS, "start": start, "stop": stop})
            print(f"  {stop:,} rows", flush=True)
        conn.execute("ANALYZE receipts")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--mine", type=int, default=300, help="receipts of the measured citizen")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--port", type=int, default=8704)
    args = parser.parse_args()
    idp = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(idp.public_key()))
    database_url = harness.fresh_database("piaojia_bench_wallet")
    env = harness.node_env(database_url, None, HAIYIBAN_JWKS=json.dumps({"keys": [{**jwk, "kid": "bench", "alg": "ES256"}]}))
    harness.flask(env, "db", "upgrade")
    cipher = PiiCipher(env["PII_KEY"])
    url = harness.pg_url(database_url)
    started = time.perf_counter()
    fill(url, args.rows, cipher.lookup_hash("resident_id", PAYER_ID), cipher.encrypt(PAYER_ID, "receipt-payer-id"), args.mine)
    fill_seconds = time.perf_counter() - started
    with psycopg.connect(url) as conn:
        size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('receipts'))").fetchone()[0]
        plan = [r[0] for r in conn.execute(
            "EXPLAIN SELECT * FROM receipts WHERE payer_hash = %s ORDER BY issue_date DESC, id DESC LIMIT 21",
            (cipher.lookup_hash("resident_id", PAYER_ID),))]
    results = {}
    with harness.gunicorn(env, args.port, 2, 2):
        now = int(time.time())
        assertion = jwt.encode({"iss": "haiyiban", "aud": "piaojia", "sub": "bench", "name": "张三", "id_type": "resident_id",
                                "id_number": PAYER_ID, "iat": now, "exp": now + 300}, idp, algorithm="ES256", headers={"kid": "bench"})
        status, body = harness.request("POST", args.port, "/api/v1/auth/citizen", {"assertion": assertion})
        assert status == 200, body
        headers = {"authorization": f"Bearer {body['access_token']}"}
        cases = {"first page": "/api/v1/me/receipts?limit=20", "status=issued": "/api/v1/me/receipts?status=issued&limit=20",
                 "issuer filter": "/api/v1/me/receipts?issuer=12460200428201234X&limit=20",
                 "date range": "/api/v1/me/receipts?date_from=2025-03-01&date_to=2025-06-30&limit=20"}
        status, page = harness.request("GET", args.port, cases["first page"], headers=headers)
        assert status == 200 and len(page["items"]) == 20, page
        cursor = page["next_cursor"]
        for _ in range(5):
            status, page = harness.request("GET", args.port, f"/api/v1/me/receipts?limit=20&cursor={cursor}", headers=headers)
            cursor = page["next_cursor"] or cursor
        cases["6th page (keyset)"] = f"/api/v1/me/receipts?limit=20&cursor={cursor}"
        for name, path in cases.items():
            latencies = []
            for _ in range(args.requests):
                t0 = time.perf_counter()
                status, _ = harness.request("GET", args.port, path, headers=headers)
                latencies.append(time.perf_counter() - t0)
                assert status == 200
            results[name] = harness.percentiles(latencies)
    result = {"rows": args.rows, "citizen_receipts": args.mine, "table_size": size, "fill_seconds": round(fill_seconds, 1),
              "plan": plan, "latency": results}
    print(json.dumps(result, ensure_ascii=False, indent=1))
    print(f"written {harness.write_result('wallet', {'machine': harness.machine(), 'results': [result]})}")


if __name__ == "__main__":
    main()
