"""bench/province_day: one large province's weekday on one node, compressed in time — each
hour of the day becomes `--slot-seconds` seconds at that hour's real rate.

    python -m bench.province_day [--daily 3000000] [--slot-seconds 5] [--listeners 2000] [--event-workers 1]

The province: Guangdong-sized, about 9% of the national ~10 billion medical receipts a
year, i.e. ~3 million on a weekday (docs/scaling.md). Every hour's receipts arrive as
single webhook deliveries at `daily × share(hour) / 3600` per second, on the outpatient
curve below (peaks 9–11 and 14–16). With them, as in a real day:
- citizens open their wallets: one page read per two receipts;
- units reimburse 3% of the receipts (lock with proof of possession, then feedback);
- `--listeners` citizens hold a live stream open on the stream server; every receipt is
  issued to one of them, so each one is a push;
- at night (01:00–04:00) a hospital back-fills, one `receipt.batch` of 500 per hour.
Reported per hour: the target and achieved receipts/s, p95 of each kind of request, the
outbox's oldest undelivered event at the hour's end; for the day: CPU ms per receipt by
process group, pushes received and their latency, invariant violations.
"""
import argparse
import contextlib
import json
import threading
import time

import psycopg
from cryptography.hazmat.primitives.asymmetric import ec

from bench import harness
from bench.batch import batches_of
from bench.ingest import REDIS_URL, register_hospitals
from bench.push import Listeners, citizen_token, prepare_for_payers
from bench.reimburse import INVARIANTS, cycles, open_units

# Share of a weekday's receipts in each hour (outpatient-dominated; sums to 1).
HOURLY_SHARE = [0.005, 0.005, 0.005, 0.005, 0.005, 0.005, 0.01, 0.03, 0.09, 0.11, 0.12, 0.09,
                0.04, 0.04, 0.08, 0.09, 0.08, 0.06, 0.04, 0.03, 0.025, 0.02, 0.01, 0.005]
BACKFILL_HOURS = (1, 2, 3)


def outbox_lag_s(database_url) -> float:
    with psycopg.connect(harness.pg_url(database_url)) as conn:
        lag = conn.execute("SELECT extract(epoch FROM now() - min(occurred_at)) FROM outbox_events WHERE dispatched_at IS NULL").fetchone()[0]
    return round(float(lag or 0), 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--daily", type=int, default=3_000_000, help="receipts on the province's weekday")
    parser.add_argument("--slot-seconds", type=float, default=5.0, help="seconds each hour of the day is compressed to")
    parser.add_argument("--listeners", type=int, default=2000)
    parser.add_argument("--config", default="granian:2x4")
    parser.add_argument("--event-workers", type=int, default=1, help="RQ worker processes (python -m backend.worker)")
    parser.add_argument("--port", type=int, default=8705)
    args = parser.parse_args()
    config = harness.parse_config(args.config)
    import jwt

    idp_key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(idp_key.public_key()))
    database_url, env = harness.production_node(
        "piaojia_bench", REDIS_URL, HAIYIBAN_JWKS=json.dumps({"keys": [{**jwk, "kid": "bench", "alg": "ES256"}]}), STREAM_MAX_SECONDS="3600")
    rates = [args.daily * share / 3600 for share in HOURLY_SHARE]
    counts = [max(1, round(rate * args.slot_seconds)) for rate in rates]
    port, stream_port = args.port, args.port + 1
    hours, accepted, hour_of = [], {}, {}
    with harness.server(config["kind"], env, port, config["workers"], config["threads"]) as web, \
            harness.stream_server(env, stream_port) as streams, contextlib.ExitStack() as stack:
        workers = [stack.enter_context(harness.worker(env)) for _ in range(args.event_workers)]
        hospitals = register_hospitals(port, env)
        units = open_units(port, env, 4)
        tokens = [citizen_token(port, idp_key, "bench", n) for n in range(args.listeners)]
        receipts = prepare_for_payers(hospitals, sum(counts), args.listeners)
        backfills = batches_of(hospitals, len(BACKFILL_HOURS), 500, 5_000_000)
        listeners = Listeners(stream_port, tokens)
        listeners.wait_connected()
        time.sleep(1.0)
        meter = harness.CpuMeter(web=harness.web_pids(web), stream_server=harness.web_pids(streams), worker=[w.pid for w in workers])
        day_started, offset, issued = time.perf_counter(), 0, []
        for hour, (rate, count) in enumerate(zip(rates, counts)):
            mine = receipts[offset:offset + count]
            offset += count
            deliveries = [("POST", f"/api/v1/issuers/{issuer_id}/webhook", body, headers) for issuer_id, body, headers, _ in mine]
            wallet = [("GET", "/api/v1/me/receipts?limit=20", None, {"authorization": f"Bearer {tokens[(hour * 97 + i) % len(tokens)]}"})
                      for i in range(max(1, count // 2))]
            reimbursable = issued[-count * 3:] if issued else []
            to_reimburse = reimbursable[:max(0, round(count * 0.03))]
            results = {}

            def ingest():
                sent = time.perf_counter()
                latencies, failures, answered = harness.paced(port, deliveries, rate)
                results["ingest"] = (latencies, failures)
                results["ingest_s"] = time.perf_counter() - sent
                for i, (_, _, _, data) in enumerate(mine):
                    accepted[f"{data['code']}-{data['number']}"] = answered[i]
                    hour_of[f"{data['code']}-{data['number']}"] = hour

            def read_wallets():
                results["wallet"] = harness.paced(port, wallet, max(rate / 2, 0.5), threads=2)[:2]

            def reimburse():
                if to_reimburse:
                    _, latencies, outcomes = cycles(port, units, to_reimburse, 2, len(to_reimburse))
                    results["reimburse"] = (latencies, outcomes["error"])

            def backfill():
                if hour in BACKFILL_HOURS:
                    batch = backfills[BACKFILL_HOURS.index(hour)]
                    results["backfill"] = harness.paced(port, [("POST", f"/api/v1/issuers/{batch[0]}/webhook", batch[1], batch[2])], 1, threads=1)[:2]

            hour_started = time.perf_counter()
            workers_ = [threading.Thread(target=f) for f in (ingest, read_wallets, reimburse, backfill)]
            for t in workers_:
                t.start()
            for t in workers_:
                t.join()
            issued.extend(data for _, _, _, data in mine)
            row = {"hour": hour, "target_receipts_per_s": round(rate, 1),
                   "achieved_receipts_per_s": round(count / max(results["ingest_s"], 1e-9), 1),
                   "slot_s": round(time.perf_counter() - hour_started, 2), "outbox_lag_s_at_end": outbox_lag_s(database_url)}
            for kind in ("ingest", "wallet", "reimburse", "backfill"):
                if kind in results:
                    latencies, failures = results[kind]
                    row[f"{kind}_p95_ms"] = harness.percentiles(latencies)["p95_ms"] if latencies else None
                    row[f"{kind}_failures"] = failures
            print(json.dumps(row), flush=True)
            hours.append(row)
        day_s = time.perf_counter() - day_started
        total = sum(counts)
        cpu = meter.per_item(total + 500 * len(BACKFILL_HOURS))
        deadline = time.perf_counter() + 30
        while len(listeners.arrivals) < len(accepted) and time.perf_counter() < deadline:
            time.sleep(0.2)
        stream_rss = round(sum(harness.rss_mb(pid) for pid in harness.web_pids(streams)), 1)
        listeners.close()
    arrivals = listeners.arrivals
    push_latencies = [arrivals[k] - accepted[k] for k in accepted if k in arrivals]
    for row in hours:
        mine = [arrivals[k] - accepted[k] for k in accepted if k in arrivals and hour_of[k] == row["hour"]]
        row["push_p95_ms"] = harness.percentiles(mine)["p95_ms"] if mine else None
    with psycopg.connect(harness.pg_url(database_url)) as conn:
        violations = {name: conn.execute(sql).fetchone()[0] for name, sql in INVARIANTS.items()}
        stored = conn.execute("SELECT count(*) FROM receipts").fetchone()[0]
    result = {
        "province_daily_receipts": args.daily, "slot_seconds": args.slot_seconds, "event_workers": args.event_workers, "config": harness.describe_config(
            config["workers"], config["threads"], config["kind"]), "listeners": args.listeners, "connected": listeners.connected,
        "receipts_single": total, "receipts_backfill": 500 * len(BACKFILL_HOURS), "stored": stored, "day_seconds": round(day_s, 1),
        "peak_hour": max(hours, key=lambda h: h["target_receipts_per_s"]),
        "hours_behind_target": [h["hour"] for h in hours if h["achieved_receipts_per_s"] < 0.95 * h["target_receipts_per_s"]],
        "max_outbox_lag_s": max(h["outbox_lag_s_at_end"] for h in hours),
        "pushes": {"expected": len(accepted), "received": len(push_latencies),
                   **(harness.percentiles(push_latencies) if push_latencies else {})},
        "stream_server_rss_mb": stream_rss, "cpu_ms_per_receipt": cpu, "invariant_violations": violations, "hours": hours,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "hours"}, ensure_ascii=False))
    print(f"written {harness.write_result('province_day', {'machine': harness.machine(database_url), 'results': [result]})}")
    assert not any(violations.values()), violations


if __name__ == "__main__":
    main()
