"""bench/federation: a cross-province lock→feedback cycle through the hub, next to the same
cycle on a local receipt, in one run.

    python -m bench.federation [--cycles 300] [--clients 4]

Three production-mode gunicorn servers on PostgreSQL (a database each, jobs inline): the hub,
node 46 (Hainan, where the receipts are issued) and node 44 (Guangdong). Local: units of
node 46 lock and reimburse receipts of node 46. Cross-province: units of node 44 do the same
with receipts of node 46 — each call goes 44 → hub → 46 and back, and node 44 applies the
answer to its synced copy. Goal (issue 10): the cross-province cycle costs at most 2× the
local one. Afterwards node 46's invariants are counted.
"""
import argparse
import json

from bench import harness
from bench.ingest import prepare, push_all, register_hospitals
from bench.reimburse import cycles, open_units, violations


def federated_env(database_url, role, province, port, hub_port=None):
    env = harness.node_env(database_url, None, NODE_ROLE=role, NODE_PROVINCE=province, NODE_URL=f"http://127.0.0.1:{port}",
                           FEDERATION_SIGNING_KEY=harness.new_ec_pem(), FEDERATION_PAYER_KEY="bench-federation-payer-key",
                           FEDERATION_TIMEOUT_SECONDS="10", PIAOJIA_INSTANCE_PATH=f"/tmp/piaojia-bench-fed-{province}")
    if hub_port:
        env["HUB_URL"] = f"http://127.0.0.1:{hub_port}"
    harness.flask(env, "db", "upgrade")
    return env


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--config", default="1x8", help="gunicorn workers x threads, for each of the three servers")
    args = parser.parse_args()
    workers, threads = (int(x) for x in args.config.split("x"))
    ports = {"hub": 8751, "46": 8746, "44": 8744}
    envs = {"hub": federated_env(harness.fresh_database("piaojia_bench_hub"), "hub", "00", ports["hub"])}
    envs["46"] = federated_env(harness.fresh_database("piaojia_bench_46"), "node", "46", ports["46"], ports["hub"])
    envs["44"] = federated_env(harness.fresh_database("piaojia_bench_44"), "node", "44", ports["44"], ports["hub"])
    with harness.gunicorn(envs["hub"], ports["hub"], workers, threads), \
            harness.gunicorn(envs["46"], ports["46"], workers, threads), \
            harness.gunicorn(envs["44"], ports["44"], workers, threads):
        for province in ("46", "44"):
            harness.flask(envs["hub"], "federation", "add-node", province, f"http://127.0.0.1:{ports[province]}")
        hospitals = register_hospitals(ports["46"], envs["46"])
        deliveries = prepare(hospitals, args.cycles * 2 + 40, 1)
        push_all(ports["46"], deliveries, 8)
        receipts = [d[3] for d in deliveries]
        local_units, remote_units = open_units(ports["46"], envs["46"], 4), open_units(ports["44"], envs["44"], 4, province="44")
        cycles(ports["46"], local_units, receipts[-40:-20], args.clients, 20)  # warm-up, both paths
        cycles(ports["44"], remote_units, receipts[-20:], args.clients, 20)
        local = cycles(ports["46"], local_units, receipts[:args.cycles], args.clients, args.cycles)
        cross = cycles(ports["44"], remote_units, receipts[args.cycles:args.cycles * 2], args.clients, args.cycles)
    results = {}
    for name, (elapsed, latencies, outcomes) in (("local", local), ("cross_province", cross)):
        results[name] = {"cycles_per_s": round(outcomes["reimbursed"] / elapsed, 1), **harness.percentiles(latencies), "outcomes": outcomes}
    result = {"config": harness.describe_config(workers, threads), "clients": args.clients, "cycles": args.cycles, **results,
              "cost_ratio_cross_to_local_p50": round(results["cross_province"]["p50_ms"] / results["local"]["p50_ms"], 2),
              "throughput_ratio_local_to_cross": round(results["local"]["cycles_per_s"] / results["cross_province"]["cycles_per_s"], 2),
              "invariant_violations_node_46": violations(envs["46"]["DATABASE_URL"])}
    print(json.dumps(result, ensure_ascii=False))
    print(f"written {harness.write_result('federation', {'machine': harness.machine(envs['46']['DATABASE_URL']), 'results': [result]})}")
    assert not any(result["invariant_violations_node_46"].values()), result


if __name__ == "__main__":
    main()
