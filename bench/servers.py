"""bench/servers: the web server's own cost — requests/s of an app route that does almost
nothing (`GET /healthz`: our request-id and logging hooks, no database) under each server
configuration, alternating, in one run; wrk (Debian's `wrk` package) is the load.

    python -m bench.servers [--configs gunicorn:2x2,granian:2x2,granian:2x4] [--rounds 3] [--seconds 8]

Every real request pays this floor too; the ingest and reimburse benchmarks measure the
full paths under the same configurations.
"""
import argparse
import json
import re
import shutil
import subprocess
import statistics

from bench import harness
from bench.ingest import REDIS_URL


def wrk(port: int, seconds: int, connections: int) -> dict:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", f"http://127.0.0.1:{port}/healthz"],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    return {"requests_per_s": rps, "p99_ms": round(float(p99.group(1)) * scale, 2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="gunicorn:2x2,granian:2x2,gunicorn:2x8,granian:2x8")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--port", type=int, default=8704)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("needs wrk: apt-get install wrk")
    _, env = harness.production_node("piaojia_bench", REDIS_URL)
    runs: dict[str, list] = {}
    for _ in range(args.rounds):
        for text in args.configs.split(","):
            config = harness.parse_config(text)
            with harness.server(config["kind"], env, args.port, config["workers"], config["threads"]) as server:
                wrk(args.port, 2, args.connections)  # warm-up
                meter = harness.CpuMeter(web=harness.web_pids(server))
                measured = wrk(args.port, args.seconds, args.connections)
                cpu = meter.per_item(int(measured["requests_per_s"] * args.seconds))
                rss = sum(harness.rss_mb(pid) for pid in harness.web_pids(server))
            runs.setdefault(harness.describe_config(config["workers"], config["threads"], config["kind"]), []).append(
                {**measured, "web_cpu_ms_per_request": cpu["web"], "web_rss_mb": round(rss, 1)})
    results = [{"config": name, "rounds": found,
                "median_requests_per_s": statistics.median(r["requests_per_s"] for r in found),
                "median_web_cpu_ms_per_request": statistics.median(r["web_cpu_ms_per_request"] for r in found)}
               for name, found in runs.items()]
    for result in results:
        print(json.dumps(result, ensure_ascii=False))
    print(f"written {harness.write_result('servers', {'machine': harness.machine(), 'connections': args.connections, 'results': results})}")


if __name__ == "__main__":
    main()
