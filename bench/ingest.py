"""bench/ingest: signed receipts pushed through the web server on PostgreSQL by 16 concurrent
hospital clients, beside a plain psycopg baseline inserting the same rows in the same run.

    python -m bench.ingest [--receipts 3000] [--clients 16] [--configs old/gunicorn:2x2,granian:2x2 --old-tree PATH]

Every request takes the whole production path: Standard Webhooks verification, strict
schema and business rules, ES256 verification of the issuer's seal, AES-GCM of the ID
number, the supervision signature, the receipt + timeline + outbox + replay rows in one
transaction, and (REDIS_URL set) the delivery job enqueued after commit.
"""
import argparse
import hashlib
import http.client
import json
import threading
import time
import uuid
from datetime import datetime, timezone

import psycopg
import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from standardwebhooks import Webhook

from bench import harness
from backend.common.crypto import PiiCipher
from backend.receipts.signing import PlatformSigner, sign_es256

HOSPITALS = [("三亚中心医院", "12460200428201234X"), ("广东省中医院海南医院", "12460000MB0C12345A"),
             ("上海交通大学医学院附属瑞金医院海南医院", "12469000MB1D23456B")]
REDIS_URL = "redis://127.0.0.1:6379/13"


def sample(credit_code, name, number, payer_id):
    return {
        "code": "46060125", "number": number, "check_code": "7Kq9Zx", "title": "海南省医疗门诊收费票据（电子）", "kind": "outpatient",
        "issue_date": "2025-11-20", "issued_at": "2025-11-20T10:15:00+08:00",
        "issuer": {"name": name, "credit_code": credit_code}, "clerk": "王芳", "checker": "李强",
        "payer": {"name": "张三", "id_type": "resident_id", "id_number": payer_id},
        "total_amount": "356.80",
        "payments": {"fund_paid": "200.00", "account_paid": "50.00", "cash_paid": "106.80", "other_paid": "0.00",
                     "self_pay": "136.80", "self_expense": "20.00"},
        "visit": {"visit_type": "outpatient", "visit_date": "2025-11-20", "department": "内科", "medical_record_no": "MZ202511200001",
                  "insurance_type": "职工基本医疗保险", "insurance_no": "H46020000012345", "institution_type": "综合医院"},
        "items": [
            {"code": "C0104", "name": "西药费", "quantity": "1", "unit": "项", "rate": "156.80", "amount": "156.80", "remark": ""},
            {"code": "C0107", "name": "检查费", "quantity": "1", "unit": "次", "rate": "120.00", "amount": "120.00", "remark": ""},
            {"code": "C0108", "name": "化验费", "quantity": "2", "unit": "次", "rate": "40.00", "amount": "80.00", "remark": ""},
        ],
    }


def prepare(hospitals, count, offset):
    """Pre-signed deliveries (the hospitals' CPU is not ours to measure)."""
    deliveries = []
    for i in range(count):
        h = hospitals[i % len(hospitals)]
        data = sample(h["credit_code"], h["name"], f"{offset + i:010d}", f"4602001990{(i % 997):06d}{i % 10}X"[:18])
        value = sign_es256(h["key"], rfc8785.dumps(data))
        data["signature"] = {"alg": "ES256", "value": value}
        body = json.dumps({"type": "receipt.issued", "data": data}, ensure_ascii=False)
        msg_id = f"msg_{uuid.uuid4().hex}"
        now = datetime.now(timezone.utc)
        headers = {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": Webhook(h["secret"]).sign(msg_id, now, body)}
        deliveries.append((h["issuer_id"], body.encode(), headers, data))
    return deliveries


def push_all(port, deliveries, clients):
    latencies, statuses = [], []
    lock = threading.Lock()
    cursor = iter(range(len(deliveries)))

    def run(_n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine_lat, mine_st = [], []
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                break
            issuer_id, body, headers, _ = deliveries[i]
            started = time.perf_counter()
            conn.request("POST", f"/api/v1/issuers/{issuer_id}/webhook", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            mine_lat.append(time.perf_counter() - started)
            mine_st.append(resp.status)
        conn.close()
        with lock:
            latencies.extend(mine_lat)
            statuses.extend(mine_st)

    elapsed = harness.run_threads(clients, run)
    return elapsed, latencies, statuses


def baseline(database_url, deliveries, clients, pii_key):
    """The same rows, inserted by plain psycopg, one transaction per receipt."""
    cipher = PiiCipher(pii_key)
    signer = PlatformSigner(harness.new_ec_pem())
    rows = []
    for issuer_id, body, headers, data in deliveries:
        elements = {k: v for k, v in data.items() if k != "signature"}
        elements["payer"] = {k: v for k, v in data["payer"].items() if k != "id_number"}
        rows.append((issuer_id, data, json.dumps(elements, ensure_ascii=False), headers["webhook-id"],
                     hashlib.sha256(body).hexdigest(), cipher.encrypt(data["payer"]["id_number"], "receipt-payer-id"),
                     cipher.lookup_hash("resident_id", data["payer"]["id_number"]), json.dumps(signer.sign(data))))

    def insert(conn, row, _n):
        issuer_id, data, elements, msg_id, body_hash, enc, payer_hash, platform_sig = row
        with conn.transaction():
            rid = conn.execute(
                "INSERT INTO receipts (code, number, province, issuer_id, check_code, kind, issue_date, issued_at, total_fen,"
                " payer_id_type, payer_hash, payer_id_enc, elements, content_hash, issuer_signature, platform_signature,"
                " lifecycle, reimbursed_fen, created_at, updated_at) VALUES (%s,%s,'46',%s,%s,'outpatient',%s,%s,35680,"
                " 'resident_id',%s,%s,%s,%s,%s,%s,'issued',0,now(),now()) RETURNING id",
                (data["code"], data["number"], issuer_id, data["check_code"], data["issue_date"], data["issued_at"], payer_hash,
                 enc, elements, body_hash, json.dumps(data["signature"]), platform_sig)).fetchone()[0]
            conn.execute("INSERT INTO receipt_timeline (receipt_id, event, at, actor_type, actor_id, actor_name, data)"
                         " VALUES (%s, 'receipt.issued', now(), 'issuer', %s, 'x', '{}')", (rid, issuer_id))
            conn.execute("INSERT INTO outbox_events (id, type, occurred_at, receipt_id, receipt_key, payer_hash, unit_ids, data, attempts)"
                         " VALUES (%s, 'receipt.issued', now(), %s, %s, %s, '[]', '{}', 0)",
                         (str(uuid.uuid4()), rid, f"{data['code']}-{data['number']}", payer_hash))
            conn.execute("INSERT INTO inbound_webhooks (issuer_id, webhook_id, body_hash, status_code, response, created_at)"
                         " VALUES (%s, %s, %s, 202, '{}', now())", (issuer_id, msg_id, body_hash))

    return harness.drain(database_url, rows, clients, insert)


def count_receipts(database_url):
    with psycopg.connect(harness.pg_url(database_url)) as conn:
        return conn.execute("SELECT count(*) FROM receipts").fetchone()[0]


def register_hospitals(port, env):
    creds = json.loads(harness.flask(env, "create-operator", "bench"))
    token = harness.form_token(port, creds["client_id"], creds["client_secret"])
    hospitals = []
    for name, credit_code in HOSPITALS:
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        status, body = harness.request("POST", port, "/api/v1/admin/issuers", {"name": name, "credit_code": credit_code, "province": "46",
                                                                              "public_key_pem": pem, "alg": "ES256"},
                                       {"authorization": f"Bearer {token}"})
        assert status == 201, body
        hospitals.append({"name": name, "credit_code": credit_code, "key": key, "issuer_id": body["id"], "secret": body["webhook_secret"]})
    return hospitals


def run_config(config, receipts, clients, port):
    workers, threads = config["workers"], config["threads"]
    database_url, env = harness.production_node("piaojia_bench", REDIS_URL, root=config["root"])
    with harness.server(config["kind"], env, port, workers, threads, root=config["root"]) as server:
        hospitals = register_hospitals(port, env)
        warm = prepare(hospitals, 200, 9_000_000_000)
        push_all(port, warm, clients)
        deliveries = prepare(hospitals, receipts, 1)
        meter = harness.CpuMeter(web=harness.children(server.pid))
        elapsed, latencies, statuses = push_all(port, deliveries, clients)
        cpu = meter.per_item(receipts)
        rss = [round(harness.rss_mb(pid), 1) for pid in harness.children(server.pid)]
    stored = count_receipts(database_url) - len(warm)
    base_url = harness.fresh_database("piaojia_bench_base")
    harness.flask({**env, "DATABASE_URL": base_url}, "db", "upgrade")
    with psycopg.connect(harness.pg_url(base_url)) as conn:
        for h in hospitals:
            conn.execute("INSERT INTO issuers (id, name, credit_code, province, status, created_at)"
                         " VALUES (%s, %s, %s, '46', 'active', now())", (h["issuer_id"], h["name"], h["credit_code"]))
    base_meter = harness.CpuMeter(web=[])
    base_elapsed = baseline(base_url, deliveries, clients, env["PII_KEY"])
    base_cpu = base_meter.per_item(receipts)
    errors = sum(1 for s in statuses if s != 202)
    result = {
        "config": harness.describe_config(workers, threads, config["kind"]), "tree": config["tree"], "receipts": receipts, "clients": clients,
        "receipts_per_s": round(receipts / elapsed, 1), "baseline_receipts_per_s": round(receipts / base_elapsed, 1),
        "ratio_to_baseline": round(base_elapsed / elapsed, 3), **harness.percentiles(latencies),
        "errors": errors, "stored": stored, "worker_rss_mb": rss, "cpu_ms_per_receipt": cpu, "baseline_cpu_ms_per_receipt": base_cpu,
    }
    assert stored == receipts and errors == 0, result
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--configs", default="granian:2x2,gunicorn:2x2",
                        help="comma-separated [old/]server:WxT, e.g. old/gunicorn:2x2,granian:2x2")
    parser.add_argument("--old-tree", help="another source tree to serve for old/… configs (e.g. a git worktree of an earlier main)")
    parser.add_argument("--port", type=int, default=8701)
    args = parser.parse_args()
    results = []
    for text in args.configs.split(","):
        result = run_config(harness.parse_config(text, args.old_tree), args.receipts, args.clients, args.port)
        print(json.dumps(result, ensure_ascii=False))
        results.append(result)
    path = harness.write_result("ingest", {"machine": harness.machine(harness.BENCH_DATABASE_URL), "results": results})
    print(f"written {path}")


if __name__ == "__main__":
    main()
