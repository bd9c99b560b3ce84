"""bench/worker: what delivering one event costs the RQ worker — inbox row, live-stream
publish, chat and unit-webhook checks — measured as the worker's CPU per event while a
burst of issued receipts drains, for this tree and (`old/…`) another one, alternating.

    python -m bench.worker [--receipts 3000] [--trees new,old,new,old] [--old-tree PATH]

The web server (granian 2 × 2) takes the receipts from 8 clients while one worker process
delivers them; the figure is the worker's CPU from the first delivery to an empty outbox.
"""
import argparse
import json
import time

import psycopg

from bench import harness
from bench.ingest import REDIS_URL, prepare, push_all, register_hospitals


def undelivered(database_url) -> int:
    with psycopg.connect(harness.pg_url(database_url)) as conn:
        return conn.execute("SELECT count(*) FROM outbox_events WHERE dispatched_at IS NULL").fetchone()[0]


def run(tree: str, receipts: int, port: int, old_tree: str | None) -> dict:
    config = harness.parse_config(("old/" if tree == "old" else "") + "granian:2x2", old_tree)
    database_url, env = harness.production_node("piaojia_bench", REDIS_URL, root=config["root"])
    with harness.server("granian", env, port, 2, 2, root=config["root"]) as server, harness.worker(env, root=config["root"]) as worker:
        hospitals = register_hospitals(port, env)
        push_all(port, prepare(hospitals, 200, 9_000_000_000), 8)  # warm-up
        while undelivered(database_url):
            time.sleep(0.2)
        meter = harness.CpuMeter(web=harness.web_pids(server), worker=[worker.pid])
        started = time.perf_counter()
        push_all(port, prepare(hospitals, receipts, 1), 8)
        while undelivered(database_url):
            time.sleep(0.1)
        drained = time.perf_counter() - started
        cpu = meter.per_item(receipts)
    return {"tree": config["tree"], "receipts": receipts, "seconds_to_empty_outbox": round(drained, 2),
            "events_per_s": round(receipts / drained, 1), "cpu_ms_per_event": cpu}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=3000)
    parser.add_argument("--trees", default="new,old,new,old")
    parser.add_argument("--old-tree")
    parser.add_argument("--port", type=int, default=8706)
    args = parser.parse_args()
    results = []
    for tree in args.trees.split(","):
        result = run(tree, args.receipts, args.port, args.old_tree)
        print(json.dumps(result, ensure_ascii=False), flush=True)
        results.append(result)
    print(f"written {harness.write_result('worker', {'machine': harness.machine(harness.BENCH_DATABASE_URL), 'results': results})}")


if __name__ == "__main__":
    main()
