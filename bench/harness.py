"""Shared benchmark plumbing: a production-mode node (gunicorn on PostgreSQL, Redis) on
loopback, its secrets, a fresh database, HTTP helpers and measurement utilities.

Everything is local (127.0.0.1), bounded in count and time, and stopped at the end.
"""
import base64
import http.client
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def new_ec_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def fresh_database(name: str) -> str:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def node_env(database_url: str, redis_url: str | None, **extra) -> dict:
    env = {
        **os.environ,
        "PIAOJIA_ENV": "production",
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "PII_KEY": secrets.token_urlsafe(32),
        "PLATFORM_SIGNING_KEY": new_ec_pem(),
        "HAIYIBAN_JWKS": json.dumps({"keys": []}),
        "LOG_LEVEL": "WARNING",
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "1",
        "PIAOJIA_INSTANCE_PATH": "/tmp/piaojia-bench-instance",
        **extra,
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)
    return env


def flask(env, *args) -> str:
    out = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout


@contextmanager
def gunicorn(env, port: int, workers: int, threads: int):
    cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "gthread", "--threads", str(threads),
           "-b", f"127.0.0.1:{port}", "--log-level", "warning", "--worker-tmp-dir", "/dev/shm", "wsgi:app"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if request("GET", port, "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("gunicorn did not come up: " + proc.stderr.read1().decode())
        yield proc
    finally:
        _stop(proc)


def _stop(proc):
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@contextmanager
def worker(env):
    proc = subprocess.Popen([sys.executable, "-m", "backend.worker"], cwd=ROOT, env={**env, "SWEEP_INTERVAL_SECONDS": "5"},
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2.0)
        yield proc
    finally:
        _stop(proc)


def run_threads(count: int, target) -> float:
    """Runs target(n) for n in range(count) on as many threads, all at once; returns seconds."""
    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def request(method, port, path, body=None, headers=None, conn=None):
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    payload = body if isinstance(body, (bytes, type(None))) else json.dumps(body, ensure_ascii=False).encode()
    hdrs = {"content-type": "application/json", **(headers or {})}
    conn.request(method, path, body=payload, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    if own:
        conn.close()
    return resp.status, (json.loads(data) if data and resp.getheader("content-type", "").startswith(("application/json", "application/problem+json")) else data)


def form_token(port, client_id, client_secret) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = f"grant_type=client_credentials&client_id={client_id}&client_secret={client_secret}".encode()
    conn.request("POST", "/api/v1/oauth/token", body=body, headers={"content-type": "application/x-www-form-urlencoded"})
    resp = conn.getresponse()
    data = json.loads(resp.read())
    conn.close()
    return data["access_token"]


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except FileNotFoundError:
        return []


def percentiles(latencies_s: list[float]) -> dict:
    ordered = sorted(latencies_s)

    def pct(p):
        return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 2)

    return {"p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99), "mean_ms": round(statistics.fmean(ordered) * 1000, 2)}


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": sys.version.split()[0],
            "note": "load clients, gunicorn and PostgreSQL share the same 2 cores"}


def write_result(name: str, result: dict) -> Path:
    out = ROOT / "bench" / "results" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2))
    return out


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
