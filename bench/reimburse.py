"""bench/reimburse: lock → feedback cycles per second from 32 concurrent unit clients
through gunicorn on PostgreSQL, beside a plain psycopg loop doing the same SQL in the same
run, with the invariants counted afterwards.

    python -m bench.reimburse [--cycles 1500] [--clients 32] [--config 2x8]

Each cycle: `POST /unit/receipts/{key}/lock` with proof of possession (interface mode),
then `POST …/feedback` reimbursing part of the amount; ~1 in 8 cycles targets a receipt
another client is also working on, so lock conflicts are exercised too.
"""
import argparse
import http.client
import json
import threading
import time
import uuid

import psycopg

from bench import harness
from bench.ingest import REDIS_URL, prepare, push_all, register_hospitals


def open_units(port, env, count, province="46"):
    creds = json.loads(harness.flask(env, "create-operator", f"bench-units-{province}"))
    token = harness.form_token(port, creds["client_id"], creds["client_secret"])
    units = []
    for i in range(count):
        status, body = harness.request("POST", port, "/api/v1/admin/units", {
            "name": f"测试报销单位{province}-{i}", "credit_code": f"11{province}0200MB{i:08d}", "kind": "commercial_insurer",
            "province": province}, {"authorization": f"Bearer {token}"})
        assert status == 201, body
        units.append(harness.form_token(port, body["client_id"], body["client_secret"]))
    return units


def cycles(port, units, receipts, clients, cycles_count):
    latencies, outcomes = [], {"reimbursed": 0, "conflict": 0, "error": 0}
    lock = threading.Lock()
    plan = []
    for i in range(cycles_count):
        target = receipts[i] if i % 8 else receipts[max(i - 1, 0)]  # every 8th cycle collides with the previous
        plan.append(target)
    cursor = iter(plan)

    def run(n):
        token = units[n % len(units)]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        mine = []
        counts = {"reimbursed": 0, "conflict": 0, "error": 0}
        while True:
            with lock:
                data = next(cursor, None)
            if data is None:
                break
            key = f"{data['code']}-{data['number']}"
            started = time.perf_counter()
            status, body = harness.request("POST", port, f"/api/v1/unit/receipts/{key}/lock",
                                           {"check_code": data["check_code"], "total_amount": data["total_amount"]}, headers, conn=conn)
            if status != 201:
                counts["conflict" if status == 409 else "error"] += 1
                continue
            status, body = harness.request("POST", port, f"/api/v1/unit/receipts/{key}/feedback",
                                           {"lock_token": body["lock_token"], "outcome": "reimbursed", "amount": "100.00",
                                            "reference": uuid.uuid4().hex[:12]}, headers, conn=conn)
            mine.append(time.perf_counter() - started)
            counts["reimbursed" if status == 201 else ("conflict" if status == 409 else "error")] += 1
        conn.close()
        with lock:
            latencies.extend(mine)
            for k, v in counts.items():
                outcomes[k] += v

    elapsed = harness.run_threads(clients, run)
    return elapsed, latencies, outcomes


def baseline(database_url, unit_ids, receipt_keys, clients):
    """The same two transactions per cycle in plain SQL (row lock, compare-and-set,
    lock row, ledger, timeline, outbox, access log)."""

    def cycle(conn, key, n):
        unit_id = unit_ids[n % len(unit_ids)]
        code, number = key.split("-")
        lock_id, token_hash = str(uuid.uuid4()), uuid.uuid4().hex * 2
        with conn.transaction():
            rid, = conn.execute("SELECT id FROM receipts WHERE code=%s AND number=%s FOR UPDATE", (code, number)).fetchone()
            conn.execute("INSERT INTO locks (id, receipt_id, unit_id, token_hash, mode, locked_at, expires_at) "
                         "VALUES (%s,%s,%s,%s,'interface',now(),now()+interval '7 days')", (lock_id, rid, unit_id, token_hash))
            taken = conn.execute("UPDATE receipts SET lock_id=%s, lock_unit_id=%s, lock_token_hash=%s, locked_at=now(), "
                                 "lock_expires_at=now()+interval '7 days' WHERE id=%s AND lock_id IS NULL AND lifecycle='issued' "
                                 "AND reimbursed_fen < total_fen", (lock_id, unit_id, token_hash, rid)).rowcount
            assert taken == 1
            conn.execute("INSERT INTO receipt_timeline (receipt_id, event, at, actor_type, actor_id, data) VALUES (%s,'receipt.locked',now(),'unit',%s,'{}')", (rid, unit_id))
            conn.execute("INSERT INTO outbox_events (id, type, occurred_at, receipt_id, unit_ids, data, attempts) VALUES (%s,'receipt.locked',now(),%s,'[]','{}',0)", (str(uuid.uuid4()), rid))
            conn.execute("INSERT INTO receipt_access_log (receipt_id, accessor_type, accessor_id, accessor_name, action, at) VALUES (%s,'unit',%s,'x','lock',now())", (rid, unit_id))
        with conn.transaction():
            conn.execute("SELECT id FROM receipts WHERE id=%s FOR UPDATE", (rid,))
            done = conn.execute("UPDATE receipts SET reimbursed_fen = reimbursed_fen + 10000, lock_id=NULL, lock_unit_id=NULL, "
                                "lock_token_hash=NULL, locked_at=NULL, lock_expires_at=NULL WHERE id=%s AND lock_id=%s "
                                "AND lock_expires_at > now() AND reimbursed_fen + 10000 <= total_fen", (rid, lock_id)).rowcount
            assert done == 1
            conn.execute("UPDATE locks SET ended_at=now(), end_reason='reimbursed' WHERE id=%s AND ended_at IS NULL", (lock_id,))
            conn.execute("INSERT INTO ledger_entries (receipt_id, unit_id, lock_id, outcome, amount_fen, reimbursed_at, created_at) VALUES (%s,%s,%s,'reimbursed',10000,now(),now())", (rid, unit_id, lock_id))
            for event in ("receipt.reimbursed", "receipt.unlocked"):
                conn.execute("INSERT INTO receipt_timeline (receipt_id, event, at, actor_type, actor_id, data) VALUES (%s,%s,now(),'unit',%s,'{}')", (rid, event, unit_id))
                conn.execute("INSERT INTO outbox_events (id, type, occurred_at, receipt_id, unit_ids, data, attempts) VALUES (%s,%s,now(),%s,'[]','{}',0)", (str(uuid.uuid4()), event, rid))
            conn.execute("INSERT INTO receipt_access_log (receipt_id, accessor_type, accessor_id, accessor_name, action, at) VALUES (%s,'unit',%s,'x','feedback',now())", (rid, unit_id))

    return harness.drain(database_url, receipt_keys, clients, cycle)


INVARIANTS = {
    "reimbursed_beyond_total": "SELECT count(*) FROM receipts WHERE reimbursed_fen > total_fen",
    "ledger_differs_from_receipt": "SELECT count(*) FROM receipts r WHERE reimbursed_fen <> (SELECT coalesce(sum(amount_fen),0) FROM ledger_entries l WHERE l.receipt_id = r.id)",
    "several_open_locks": "SELECT count(*) FROM (SELECT receipt_id FROM locks WHERE ended_at IS NULL GROUP BY receipt_id HAVING count(*) > 1) x",
    "several_feedbacks_per_lock": "SELECT count(*) FROM (SELECT lock_id FROM ledger_entries GROUP BY lock_id HAVING count(*) > 1) x",
    "open_lock_not_mirrored": "SELECT count(*) FROM locks l JOIN receipts r ON r.id = l.receipt_id WHERE l.ended_at IS NULL AND r.lock_id IS DISTINCT FROM l.id",
}


def violations(database_url) -> dict:
    with psycopg.connect(harness.pg_url(database_url)) as conn:
        return {name: conn.execute(sql).fetchone()[0] for name, sql in INVARIANTS.items()}


def run_config(config, args) -> dict:
    workers, threads = config["workers"], config["threads"]
    database_url, env = harness.production_node("piaojia_bench", REDIS_URL, root=config["root"])
    with harness.server(config["kind"], env, args.port, workers, threads, root=config["root"]) as server:
        hospitals = register_hospitals(args.port, env)
        # cycles for the app, 100 for its warm-up, cycles for the baseline
        deliveries = prepare(hospitals, args.cycles * 2 + 100, 1)
        push_all(args.port, deliveries, 16)
        receipts = [d[3] for d in deliveries]
        units = open_units(args.port, env, 8)
        cycles(args.port, units, receipts[args.cycles:args.cycles + 100], args.clients, 100)  # warm-up
        meter = harness.CpuMeter(web=harness.web_pids(server))
        elapsed, latencies, outcomes = cycles(args.port, units, receipts[:args.cycles], args.clients, args.cycles)
        cpu = meter.per_item(max(outcomes["reimbursed"], 1))
    found = violations(database_url)
    with psycopg.connect(harness.pg_url(database_url)) as conn:
        unit_ids = [r[0] for r in conn.execute("SELECT id FROM units ORDER BY name")]
    # The baseline runs on the last third of the receipts, in the same database.
    keys = [f"{d['code']}-{d['number']}" for d in receipts[args.cycles + 100:]]
    base_meter = harness.CpuMeter(web=[])
    base_elapsed = baseline(database_url, unit_ids, keys, args.clients)
    base_cpu = base_meter.per_item(len(keys))
    result = {
        "config": harness.describe_config(workers, threads, config["kind"]), "tree": config["tree"], "clients": args.clients,
        "cycles": args.cycles,
        "cycles_per_s": round(outcomes["reimbursed"] / elapsed, 1), "baseline_cycles_per_s": round(len(keys) / base_elapsed, 1),
        "ratio_to_baseline": round((outcomes["reimbursed"] / elapsed) / (len(keys) / base_elapsed), 3),
        **harness.percentiles(latencies), "outcomes": outcomes, "invariant_violations": violations(database_url),
        "invariant_violations_before_baseline": found, "cpu_ms_per_cycle": cpu, "baseline_cpu_ms_per_cycle": base_cpu,
    }
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1500)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--configs", default="granian:2x4", help="comma-separated [old/]server:WxT (see bench/README.md)")
    parser.add_argument("--old-tree", help="another source tree to serve for old/… configs")
    parser.add_argument("--port", type=int, default=8702)
    args = parser.parse_args()
    results = [run_config(harness.parse_config(text, args.old_tree), args) for text in args.configs.split(",")]
    print(f"written {harness.write_result('reimburse', {'machine': harness.machine(harness.BENCH_DATABASE_URL), 'results': results})}")
    for result in results:
        assert not any(result["invariant_violations"].values()), result


if __name__ == "__main__":
    main()
