"""Shared benchmark plumbing: a production-mode node (granian or gunicorn on PostgreSQL, Redis) on
loopback, its secrets, a fresh database, HTTP helpers and measurement utilities.

Everything is local (127.0.0.1), bounded in count and time, and stopped at the end.
"""
import base64
import http.client
import json
import os
import platform
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


def new_jwks() -> str:
    """A valid JWKS (one EC P-256 public key) for HAIYIBAN_JWKS, which production requires."""
    import jwt

    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public))
    return json.dumps({"keys": [{**jwk, "kid": "bench", "alg": "ES256", "use": "sig"}]})


def pg_url(database_url: str) -> str:
    """The libpq form of a SQLAlchemy URL (psycopg does not know `+psycopg`)."""
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def ensure_database(database_url: str) -> None:
    """Creates the URL's database on its server when it does not exist yet."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(pg_url(database_url))
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def reset_schema(database_url: str) -> None:
    """Drops everything in the database's public schema (a clean slate for `db upgrade`)."""
    with psycopg.connect(pg_url(database_url), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


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
        # The runs in bench/REPORT.md use the P-256 finance seal (production's default is SM2
        # since issue 18; set PLATFORM_SIGNATURE_ALG=SM2 and PLATFORM_SM2_SIGNING_KEY to measure it).
        "PLATFORM_SIGNATURE_ALG": os.environ.get("PLATFORM_SIGNATURE_ALG", "ES256"),
        "HAIYIBAN_JWKS": new_jwks(),
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


def production_node(database: str, redis_url: str, root: Path = ROOT, **extra) -> tuple[str, dict]:
    """A fresh database migrated by `root`'s migrations and an emptied Redis db for one
    node: (database_url, env)."""
    from redis import Redis

    database_url = fresh_database(database)
    Redis.from_url(redis_url).flushdb()
    env = node_env(database_url, redis_url, **extra)
    flask(env, "db", "upgrade", root=root)
    return database_url, env


def flask(env, *args, root: Path = ROOT) -> str:
    out = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=root, env=env,
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout


@contextmanager
def gunicorn(env, port: int, workers: int, threads: int, root: Path = ROOT):
    """gunicorn on 127.0.0.1:port: gthread workers with `threads` threads, or sync
    workers when threads is 0. `root`: the source tree to serve (default: this one)."""
    kind = ["-k", "gthread", "--threads", str(threads)] if threads else ["-k", "sync", "--threads", "1"]
    cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), *kind,
           "-b", f"127.0.0.1:{port}", "--log-level", "warning", "--worker-tmp-dir", "/dev/shm", "wsgi:app"]
    with _serving(cmd, env, port, root) as proc:
        yield proc


@contextmanager
def granian(env, port: int, workers: int, threads: int, root: Path = ROOT, interface: str = "wsgi", app: str = "wsgi:app"):
    """granian on 127.0.0.1:port: `workers` processes, `threads` blocking threads each
    (the WSGI app runs on those), one runtime thread."""
    cmd = [sys.executable, "-m", "granian", "--interface", interface, "--workers", str(workers),
           "--blocking-threads", str(threads), "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning", "--no-ws", app]
    with _serving(cmd, env, port, root) as proc:
        yield proc


@contextmanager
def stream_server(env, port: int, workers: int = 1, root: Path = ROOT):
    """The asyncio stream server (granian ASGI) on 127.0.0.1:port."""
    cmd = [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--workers", str(workers), "--blocking-threads", "1",
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-ws", "--backlog", "4096",
           "backend.stream_app:create_app"]
    with _serving(cmd, env, port, root) as proc:
        yield proc


SERVERS = {"gunicorn": gunicorn, "granian": granian}


def server(kind: str, env, port: int, workers: int, threads: int, root: Path = ROOT):
    """The web server named `kind` (gunicorn or granian) serving `root`'s wsgi:app."""
    return SERVERS[kind](env, port, workers, threads, root=root)


def web_pids(proc) -> list[int]:
    """The worker processes of a server started by `server` (gunicorn's or granian's children)."""
    return children(proc.pid)


@contextmanager
def _serving(cmd, env, port, root):
    proc = subprocess.Popen(cmd, cwd=root, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if request("GET", port, "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"{cmd[2]} did not come up: " + proc.stderr.read1().decode())
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
def worker(env, root: Path = ROOT):
    """An RQ worker process (`python -m backend.worker`, all queues) of `root`'s code."""
    proc = subprocess.Popen([sys.executable, "-m", "backend.worker"], cwd=root, env={**env, "SWEEP_INTERVAL_SECONDS": "5"},
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


def paced(port, requests_, rate, threads=6):
    """Sends (method, path, body, headers) at `rate` per second from `threads` connections;
    returns (latencies, non-2xx count, the moment each request was answered by index)."""
    lock, cursor, latencies, failures, answered = threading.Lock(), iter(enumerate(requests_)), [], [0], {}
    started = time.perf_counter()

    def run(_n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                item = next(cursor, None)
            if item is None:
                break
            i, (method, path, body, headers) = item
            time.sleep(max(0.0, started + i / rate - time.perf_counter()))
            sent = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            with lock:
                answered[i] = time.perf_counter()
                latencies.append(answered[i] - sent)
                failures[0] += resp.status >= 300
        conn.close()

    run_threads(threads, run)
    return latencies, failures[0], answered


def drain(database_url: str, items, clients: int, handle) -> float:
    """Hands items out to `clients` threads, each with its own connection, calling
    handle(conn, item, n) with its thread number n; returns seconds."""
    url, lock, pending, done = pg_url(database_url), threading.Lock(), iter(items), object()

    def run(n):
        with psycopg.connect(url) as conn:
            while True:
                with lock:
                    item = next(pending, done)
                if item is done:
                    return
                handle(conn, item, n)

    return run_threads(clients, run)


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


def pss_mb(pid: int) -> float:
    """Proportional set size: pages shared by forked workers counted once in total."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, PermissionError):
        pass
    return 0.0


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (0 when it is gone)."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK if fields else 0.0


def reaped_children_cpu_seconds(pid: int) -> float:
    """CPU seconds of the process's children that ended and were waited for (cutime + cstime)."""
    fields = _stat_fields(pid)
    return (int(fields[13]) + int(fields[14])) / _CLK_TCK if fields else 0.0


def postgresql_cpu_seconds() -> float:
    """Every PostgreSQL backend's CPU so far: the live ones, plus those that ended, which the
    postmaster (their parent) has reaped into its children's times."""
    backends = processes_named("postgres")
    parents = {int(fields[1]) for fields in map(_stat_fields, backends) if fields}
    return sum(cpu_seconds(pid) for pid in backends) + sum(reaped_children_cpu_seconds(pid) for pid in parents)


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, all cores, from /proc/stat."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    total = sum(values[:8])  # guest time is already inside user
    idle = values[3] + values[4]
    return (total - idle) / _CLK_TCK, total / _CLK_TCK


def processes_named(*prefixes: str) -> list[int]:
    """Pids whose command line starts with one of `prefixes` (e.g. postgres, redis-server)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
        if cmd.startswith(prefixes):
            found.append(int(entry))
    return found


class CpuMeter:
    """CPU seconds used between its creation and `per_item`, split by who used them: the
    web workers, PostgreSQL backends, Redis, this load-generating process, and the rest
    of the machine. Tells whether a figure is bound by the app, the database or the load."""

    def __init__(self, web: list[int], **named: list[int]):
        self.groups = {"web": web, **named}
        self.start = self._sample()

    def _sample(self) -> dict:
        usage = {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in self.groups.items()}
        usage["postgresql"] = postgresql_cpu_seconds()
        usage["redis"] = sum(cpu_seconds(pid) for pid in processes_named("redis-server"))
        usage["load_clients"] = cpu_seconds(os.getpid())
        usage["machine_busy"], usage["machine_total"] = machine_cpu()
        return usage

    def per_item(self, items: int) -> dict:
        """Milliseconds of CPU per item for each group, and the machine's idle share."""
        end = self._sample()
        delta = {k: end[k] - self.start[k] for k in end}
        result = {k: round(v * 1000 / items, 3) for k, v in delta.items() if k not in ("machine_busy", "machine_total")}
        accounted = sum(v for k, v in delta.items() if k not in ("machine_busy", "machine_total"))
        result["other"] = round(max(delta["machine_busy"] - accounted, 0) * 1000 / items, 3)
        result["machine_idle_share"] = round(1 - delta["machine_busy"] / delta["machine_total"], 3) if delta["machine_total"] else None
        return result


def describe_config(workers: int, threads: int, kind: str = "gunicorn") -> str:
    if kind == "granian":
        return f"granian {workers} workers x {threads} blocking threads (WSGI)"
    return f"gunicorn {workers} workers x {threads} threads (gthread)" if threads else f"gunicorn {workers} sync workers"


BENCH_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/piaojia_bench"


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


def parse_config(text: str, old_tree: str | None = None) -> dict:
    """`[old/]server:WxT` (e.g. `granian:2x2`, `old/gunicorn:2x2`; a bare `2x2` is gunicorn):
    the server, its workers and threads, and the source tree to serve (`old/`: --old-tree)."""
    tree, label = ROOT, "this tree"
    if text.startswith("old/"):
        if not old_tree:
            raise SystemExit("old/… needs --old-tree PATH (e.g. a `git worktree` of an earlier commit)")
        tree, label, text = Path(old_tree).resolve(), f"old tree {_tree_commit(old_tree)}", text[4:]
    kind, _, shape = text.rpartition(":")
    workers, threads = (int(x) for x in shape.split("x"))
    return {"kind": kind or "gunicorn", "workers": workers, "threads": threads, "root": tree, "tree": label}


def _tree_commit(tree: str) -> str:
    out = subprocess.run(["git", "-C", tree, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or "?"


def machine(database_url: str | None = None) -> dict:
    info = {"cpus": os.cpu_count(), "python": sys.version.split()[0], "kernel": platform.release(),
            "note": "load clients, the web server and PostgreSQL share the same 2 cores"}
    try:
        with open("/proc/cpuinfo") as fh:
            info["cpu_model"] = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), None)
        with open("/proc/meminfo") as fh:
            info["memory_gib"] = round(int(fh.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    if database_url:
        with psycopg.connect(pg_url(database_url)) as conn:
            info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
            info["postgresql_settings"] = dict(conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN ('shared_buffers', 'synchronous_commit', 'fsync',"
                " 'max_connections', 'wal_level', 'full_page_writes') ORDER BY name").fetchall())
    return info


def write_result(name: str, result: dict) -> Path:
    out = ROOT / "bench" / "results" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2))
    return out


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
