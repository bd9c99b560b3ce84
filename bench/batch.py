"""bench/batch: bulk ingest (`receipt.batch`, up to 500 sealed receipts per delivery) next
to the single-delivery path and a psycopg baseline doing the same crypto and inserts, in one
run, on one production-mode node (granian on PostgreSQL, Redis).

    python -m bench.batch [--single 1500] [--batches 12] [--size 500] [--config granian:2x2]

Goals (issue 13): batch receipts/s ≥ 5× the single path, and ≥ 0.5 of the baseline. The
baseline verifies every issuer seal (ES256), makes every supervision signature, encrypts and
hashes every payer ID, and writes receipts, timeline and outbox rows with multi-row inserts,
one transaction per batch, from as many threads as the batch clients.
"""
import argparse
import base64
import json
import uuid
from datetime import datetime, timezone

import psycopg
import rfc8785
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from standardwebhooks import Webhook

from backend.common.crypto import PiiCipher
from backend.receipts.signing import PlatformSigner
from bench import harness
from bench.ingest import REDIS_URL, count_receipts, prepare, push_all, register_hospitals


def batches_of(hospitals, count, size, offset):
    """Pre-signed batch deliveries (one hospital each), and the receipts inside."""
    deliveries = []
    for b in range(count):
        h = hospitals[b % len(hospitals)]
        receipts = [d[3] for d in prepare([h], size, offset + b * size)]
        body = json.dumps({"type": "receipt.batch", "data": {"receipts": receipts}}, ensure_ascii=False)
        msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(timezone.utc)
        headers = {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": Webhook(h["secret"]).sign(msg_id, now, body)}
        deliveries.append((h["issuer_id"], body.encode(), headers, receipts))
    return deliveries


def baseline(database_url, batches, hospitals, clients, pii_key):
    cipher, signer = PiiCipher(pii_key), PlatformSigner(harness.new_ec_pem())
    public = {h["issuer_id"]: h["key"].public_key() for h in hospitals}

    def insert(conn, batch, _n):
        issuer_id, _, _, receipts = batch
        rows = []
        for data in receipts:
            raw = base64.urlsafe_b64decode(data["signature"]["value"] + "==")
            sig = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
            unsigned = {k: v for k, v in data.items() if k != "signature"}
            public[issuer_id].verify(sig, rfc8785.dumps(unsigned), ec.ECDSA(hashes.SHA256()))
            elements = {**unsigned, "payer": {k: v for k, v in data["payer"].items() if k != "id_number"}}
            rows.append((data["code"], data["number"], issuer_id, data["check_code"], data["issue_date"], data["issued_at"],
                         cipher.lookup_hash("resident_id", data["payer"]["id_number"]),
                         cipher.encrypt(data["payer"]["id_number"], "receipt-payer-id"),
                         json.dumps(elements, ensure_ascii=False), json.dumps(data["signature"]), json.dumps(signer.sign(data))))
        with conn.transaction():
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO receipts (code, number, province, issuer_id, check_code, kind, issue_date, issued_at, total_fen,"
                    " payer_id_type, payer_hash, payer_id_enc, elements, content_hash, issuer_signature, platform_signature,"
                    " lifecycle, reimbursed_fen, created_at, updated_at) VALUES (%s,%s,'46',%s,%s,'outpatient',%s,%s,35680,"
                    " 'resident_id',%s,%s,%s,'x',%s,%s,'issued',0,now(),now()) RETURNING id", rows, returning=True)
                ids = []
                while True:
                    ids.append(cur.fetchone()[0])
                    if not cur.nextset():
                        break
                cur.executemany("INSERT INTO receipt_timeline (receipt_id, event, at, actor_type, actor_id, actor_name, data)"
                                " VALUES (%s, 'receipt.issued', now(), 'issuer', %s, 'x', '{}')", [(rid, issuer_id) for rid in ids])
                cur.executemany("INSERT INTO outbox_events (id, type, occurred_at, receipt_id, unit_ids, data, attempts)"
                                " VALUES (%s, 'receipt.issued', now(), %s, '[]', '{}', 0)", [(str(uuid.uuid4()), rid) for rid in ids])

    return harness.drain(database_url, batches, clients, insert)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=1500)
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--clients", type=int, default=2, help="concurrent batch senders (single path: 8)")
    parser.add_argument("--config", default="granian:2x2", help="server:WxT (see bench/README.md)")
    parser.add_argument("--port", type=int, default=8761)
    args = parser.parse_args()
    config = harness.parse_config(args.config)
    workers, threads = config["workers"], config["threads"]
    database_url, env = harness.production_node("piaojia_bench", REDIS_URL)
    with harness.server(config["kind"], env, args.port, workers, threads):
        hospitals = register_hospitals(args.port, env)
        push_all(args.port, prepare(hospitals, 100, 9_000_000_000), 8)  # warm-up
        singles = prepare(hospitals, args.single, 1)
        single_elapsed, _, statuses = push_all(args.port, singles, 8)
        assert all(s == 202 for s in statuses), set(statuses)
        batches = batches_of(hospitals, args.batches, args.size, 5_000_000_000)
        batch_elapsed, latencies, statuses = push_all(args.port, batches, args.clients)
        assert all(s == 202 for s in statuses), set(statuses)
    stored = count_receipts(database_url) - 100 - args.single
    total = args.batches * args.size
    base_url = harness.fresh_database("piaojia_bench_base")
    harness.flask({**env, "DATABASE_URL": base_url}, "db", "upgrade")
    with psycopg.connect(harness.pg_url(base_url)) as conn:
        for h in hospitals:
            conn.execute("INSERT INTO issuers (id, name, credit_code, province, status, created_at) VALUES (%s, %s, %s, '46', 'active', now())",
                         (h["issuer_id"], h["name"], h["credit_code"]))
    base_elapsed = baseline(base_url, batches, hospitals, args.clients, env["PII_KEY"])
    result = {
        "config": harness.describe_config(workers, threads, config["kind"]), "batch_size": args.size, "batches": args.batches,
        "single_receipts_per_s": round(args.single / single_elapsed, 1), "batch_receipts_per_s": round(total / batch_elapsed, 1),
        "baseline_receipts_per_s": round(total / base_elapsed, 1),
        "batch_to_single": round((total / batch_elapsed) / (args.single / single_elapsed), 2),
        "batch_to_baseline": round(base_elapsed / batch_elapsed, 3),
        "batch_latency": harness.percentiles(latencies), "stored_from_batches": stored,
    }
    print(json.dumps(result, ensure_ascii=False))
    print(f"written {harness.write_result('batch', {'machine': harness.machine(database_url), 'results': [result]})}")
    assert stored == total, result


if __name__ == "__main__":
    main()
