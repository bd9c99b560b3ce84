"""bench/batch: bulk ingest (`receipt.batch`, up to 500 sealed receipts per delivery) next
to the single-delivery path and a psycopg baseline doing the same crypto and inserts, in one
run, on one production-mode node (granian on PostgreSQL, Redis).

    python -m bench.batch [--single 1500] [--batches 12] [--size 500] [--config granian:2x2]
    python -m bench.batch --data-files [--batches 8] [--size 500] [--profile 2]

Goals (issue 13): batch receipts/s ≥ 5× the single path, and ≥ 0.5 of the baseline. The
baseline verifies every issuer seal (ES256), makes every supervision signature, encrypts and
hashes every payer ID, and writes receipts, timeline and outbox rows with multi-row inserts,
one transaction per batch, from as many threads as the batch clients.

`--data-files` (issue 18): the items are national data files (`{"data_file": base64}`,
DESIGN §11) sealed by SM2 issuers, and the baseline does the same work without the app:
`datafile.parse` and mapping, SM2 verification of the InvoicingPartySignature, the node's
finance seal and SupervisorPartySignature (the platform key's algorithm,
PLATFORM_SIGNATURE_ALG: ES256 by default), the payer ID's encryption and hash, the JSON
supervision signature, and the receipt, timeline, outbox and receipt_data_files rows.
Goal: data-file batch receipts/s ≥ 0.5 of that baseline, same run. `--profile N` then
pushes N more batches through the app in this process under cProfile and prints where
the time goes.
"""
import argparse
import base64
import cProfile
import io
import json
import os
import pstats
import uuid
from datetime import datetime, timezone

import psycopg
import rfc8785
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from standardwebhooks import Webhook

from backend import datafile
from backend.common.crypto import PiiCipher, sha256_hex
from backend.config import ProductionConfig
from backend.receipts import sm2
from backend.receipts.signing import PlatformSigner, canonical_bytes
from bench import harness
from bench.ingest import HOSPITALS, REDIS_URL, count_receipts, prepare, push_all, register_hospitals, sample


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


def baseline_database(database: str, env: dict, hospitals: list) -> str:
    """The baseline's own database (`<database>_base`): the schema and the same issuers."""
    base_url = harness.fresh_database(f"{database}_base")
    harness.flask({**env, "DATABASE_URL": base_url}, "db", "upgrade")
    with psycopg.connect(harness.pg_url(base_url)) as conn:
        for h in hospitals:
            conn.execute("INSERT INTO issuers (id, name, credit_code, province, status, created_at) VALUES (%s, %s, %s, '46', 'active', now())",
                         (h["issuer_id"], h["name"], h["credit_code"]))
    return base_url


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
            rows.append(_row(data, issuer_id, cipher, signer))
        with conn.transaction():
            with conn.cursor() as cur:
                _insert_issued(cur, rows, issuer_id)

    return harness.drain(database_url, batches, clients, insert)


def _row(data: dict, issuer_id: str, cipher, signer) -> tuple:
    """A receipt row as the app writes it: the payer's ID encrypted and hashed, the elements
    without it, the issuer's seal and the JSON supervision signature."""
    elements = {k: v for k, v in data.items() if k != "signature"}
    elements["payer"] = {k: v for k, v in data["payer"].items() if k != "id_number"}
    return (data["code"], data["number"], issuer_id, data["check_code"], data["issue_date"], data["issued_at"],
            cipher.lookup_hash("resident_id", data["payer"]["id_number"]), cipher.encrypt(data["payer"]["id_number"], "receipt-payer-id"),
            json.dumps(elements, ensure_ascii=False), json.dumps(data["signature"]), json.dumps(signer.sign(data)))


def _insert_issued(cur, rows: list, issuer_id: str) -> list[int]:
    """The receipts, their timeline entries and outbox events, multi-row; the new ids."""
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
    return ids


def register_sm2_hospitals(port, env):
    """The hospitals as SM2 issuers (their registered key: an SM2 public key PEM)."""
    creds = json.loads(harness.flask(env, "create-operator", "bench"))
    token = harness.form_token(port, creds["client_id"], creds["client_secret"])
    hospitals = []
    for name, credit_code in HOSPITALS:
        key = sm2.generate_private_key()
        status, body = harness.request("POST", port, "/api/v1/admin/issuers", {"name": name, "credit_code": credit_code, "province": "46",
                                                                              "public_key_pem": key.public_key.to_pem(), "alg": "SM2"},
                                       {"authorization": f"Bearer {token}"})
        assert status == 201, body
        hospitals.append({"name": name, "credit_code": credit_code, "key": key, "pem": key.public_key.to_pem(),
                          "issuer_id": body["id"], "secret": body["webhook_secret"]})
    return hospitals


def file_batches_of(hospitals, count, size, offset):
    """Pre-signed batch deliveries of SM2-sealed data files (the hospitals' CPU is not ours);
    each delivery carries the files' bytes for the baseline."""
    deliveries = []
    for b in range(count):
        h = hospitals[b % len(hospitals)]
        files = []
        for i in range(size):
            n = offset + b * size + i
            receipt = sample(h["credit_code"], h["name"], f"{n:010d}", f"4602001990{(n % 997):06d}{n % 10}X"[:18])
            xml = datafile.from_receipt(receipt, header_id=f"HIS-{n}")
            files.append(datafile.sign_invoicing_party(xml, "SM2", h["key"], serial="HIS-SM2-1"))
        items = [{"data_file": base64.b64encode(xml).decode()} for xml in files]
        body = json.dumps({"type": "receipt.batch", "data": {"receipts": items}})
        msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(timezone.utc)
        headers = {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": Webhook(h["secret"]).sign(msg_id, now, body)}
        deliveries.append((h["issuer_id"], body.encode(), headers, files))
    return deliveries


def platform_key_env(alg: str) -> dict:
    """The node's settings for a finance seal in `alg` (SM2 needs its own key)."""
    return {"PLATFORM_SIGNATURE_ALG": alg, **({"PLATFORM_SM2_SIGNING_KEY": sm2.generate_private_key().to_pem()} if alg == "SM2" else {})}


def file_baseline(database_url, batches, hospitals, clients, pii_key, platform_alg, province="46"):
    """The app's work on data files without the app: parse and map, SM2 check of the
    issuer's seal, the node's finance seal and supervision signature (`platform_alg`, as the
    node), the payer's ID encrypted and hashed, the JSON supervision signature, and the same
    rows with multi-row inserts, one transaction per batch."""
    key = sm2.generate_private_key().to_pem() if platform_alg == "SM2" else harness.new_ec_pem()
    cipher, signer = PiiCipher(pii_key), PlatformSigner(key, alg=platform_alg)
    seal = {"id": signer.kid[:64], "name": f"{province}财政电子票据监制章", "hash": sha256_hex(canonical_bytes(signer.public_jwk))}
    public = {h["issuer_id"]: h["pem"] for h in hospitals}

    def insert(conn, batch, _n):
        issuer_id, _, _, files = batch
        rows, kept = [], []
        for xml in files:
            parsed = datafile.parse(xml)
            data = datafile.to_receipt(parsed)
            assert datafile.verify(parsed, datafile.INVOICING_PARTY, public[issuer_id], alg="SM2").valid
            signature = parsed.signatures[datafile.INVOICING_PARTY]
            data["signature"] = {"alg": signature.alg, "value": "".join(signature.value.split())}
            complete = datafile.fill_supervisor_seal_and_sign(parsed, signer.alg, signer.private_key, seal, serial=signer.kid[:64])
            rows.append(_row(data, issuer_id, cipher, signer))
            kept.append((parsed.raw, parsed.sha256, complete))
        with conn.transaction():
            with conn.cursor() as cur:
                ids = _insert_issued(cur, rows, issuer_id)
                cur.executemany("INSERT INTO receipt_data_files (receipt_id, source, original, original_sha256, complete, created_at)"
                                " VALUES (%s, 'issuer', %s, %s, %s, now())", [(rid, *k) for rid, k in zip(ids, kept)])

    return harness.drain(database_url, batches, clients, insert)


def profile_app(env, batches, top=25) -> str:
    """Pushes `batches` through the app in this process (Flask's test client, same
    database and settings as the node) under cProfile; the top functions by own time."""
    import importlib

    import backend.config
    from backend import create_app

    os.environ.update(env)
    importlib.reload(backend.config)  # its settings are read from the environment at import

    app = create_app()
    client = app.test_client()
    profiler = cProfile.Profile()
    for issuer_id, body, headers, _ in batches:
        profiler.enable()
        resp = client.post(f"/api/v1/issuers/{issuer_id}/webhook", data=body, headers=headers)
        profiler.disable()
        assert resp.status_code == 202, resp.get_data(as_text=True)[:500]
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top * 2)
    return out.getvalue()


def main_data_files(args):
    config = harness.parse_config(args.config)
    workers, threads = config["workers"], config["threads"]
    platform_alg = args.platform_alg or ProductionConfig.PLATFORM_SIGNATURE_ALG
    database_url, env = harness.production_node(args.database, args.redis, **platform_key_env(platform_alg))
    with harness.server(config["kind"], env, args.port, workers, threads) as server:
        hospitals = register_sm2_hospitals(args.port, env)
        push_all(args.port, file_batches_of(hospitals, 2, 50, 9_000_000_000), args.clients)  # warm-up
        batches = file_batches_of(hospitals, args.batches, args.size, 5_000_000_000)
        meter = harness.CpuMeter(web=harness.children(server.pid))
        batch_elapsed, latencies, statuses = push_all(args.port, batches, args.clients)
        cpu = meter.per_item(args.batches * args.size)
        assert all(s == 202 for s in statuses), set(statuses)
    stored = count_receipts(database_url) - 100
    with psycopg.connect(harness.pg_url(database_url)) as conn:
        files_kept = conn.execute("SELECT count(*) FROM receipt_data_files WHERE source = 'issuer'").fetchone()[0] - 100
    total = args.batches * args.size
    base_url = baseline_database(args.database, env, hospitals)
    base_meter = harness.CpuMeter(web=[])
    base_elapsed = file_baseline(base_url, batches, hospitals, args.clients, env["PII_KEY"], platform_alg)
    base_cpu = base_meter.per_item(total)
    result = {
        "mode": "data_files", "config": harness.describe_config(workers, threads, config["kind"]), "batch_size": args.size,
        "batches": args.batches, "clients": args.clients, "issuer_alg": "SM2", "platform_alg": platform_alg,
        "batch_receipts_per_s": round(total / batch_elapsed, 1), "baseline_receipts_per_s": round(total / base_elapsed, 1),
        "batch_to_baseline": round(base_elapsed / batch_elapsed, 3), "batch_latency": harness.percentiles(latencies),
        "stored_from_batches": stored, "files_kept": files_kept, "cpu_ms_per_receipt": cpu, "baseline_cpu_ms_per_receipt": base_cpu,
    }
    print(json.dumps(result, ensure_ascii=False))
    print(f"written {harness.write_result('batch', {'machine': harness.machine(database_url), 'results': [result]})}")
    assert stored == total and files_kept == total, result
    if args.profile:
        print(profile_app(env, file_batches_of(hospitals, args.profile, args.size, 7_000_000_000)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=1500)
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--clients", type=int, default=2, help="concurrent batch senders (single path: 8)")
    parser.add_argument("--config", default="granian:2x2", help="server:WxT (see bench/README.md)")
    parser.add_argument("--port", type=int, default=8761)
    parser.add_argument("--data-files", action="store_true", help="items as SM2-sealed national data files (issue 18)")
    parser.add_argument("--profile", type=int, default=0, help="with --data-files: then N batches in-process under cProfile")
    parser.add_argument("--platform-alg", choices=("SM2", "ES256"), help="with --data-files: the node's finance seal"
                        " (default: production's PLATFORM_SIGNATURE_ALG default)")
    parser.add_argument("--database", default="piaojia_bench", help="the node's database (the baseline's: <name>_base)")
    parser.add_argument("--redis", default=REDIS_URL)
    args = parser.parse_args()
    if args.data_files:
        return main_data_files(args)
    config = harness.parse_config(args.config)
    workers, threads = config["workers"], config["threads"]
    database_url, env = harness.production_node(args.database, args.redis)
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
    base_url = baseline_database(args.database, env, hospitals)
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
