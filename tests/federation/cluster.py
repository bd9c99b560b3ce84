"""A hub and provincial nodes as real processes on loopback ports, each with its own
database (PostgreSQL databases when TEST_DATABASE_URL is PostgreSQL, SQLite files
otherwise) and its own keys, driven over HTTP only."""
import copy
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import create_engine, text
from standardwebhooks import Webhook

from tests.support import SAMPLE_RECEIPT, ZHANG_SAN_ID, sign_es256

ROOT = Path(__file__).resolve().parents[2]
PAYER_KEY = "federation-test-payer-key"
RUN = os.getpid()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str, timeout: float = 30) -> bool:
    """Waits until the server at `url` answers /healthz; False when it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/healthz", timeout=0.5).ok:
                return True
        except requests.RequestException:
            time.sleep(0.1)
    return False


def _database(name: str, folder: Path) -> str:
    base = os.environ.get("TEST_DATABASE_URL") or ""
    if base.startswith("postgresql"):
        admin = base.rsplit("/", 1)[0] + "/postgres"
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {name}"))
        engine.dispose()
        return base.rsplit("/", 1)[0] + "/" + name
    return f"sqlite:///{folder / (name + '.sqlite3')}"


class Process:
    def __init__(self, name: str, role: str, province: str, folder: Path, hub_url: str | None = None, **env):
        self.name, self.role, self.province = name, role, province
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = folder / name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "PIAOJIA_", "REDIS", "DATABASE"))},
            "PIAOJIA_ENV": "development", "PIAOJIA_INSTANCE_PATH": str(self.folder),
            # Named per test run: two runs on one PostgreSQL never drop each other's databases.
            "DATABASE_URL": _database(f"piaojia_fed_{name}_{RUN}", folder), "NODE_ROLE": role, "NODE_PROVINCE": province,
            "NODE_URL": self.url, "HUB_URL": hub_url or "", "FEDERATION_PAYER_KEY": PAYER_KEY,
            "FEDERATION_TIMEOUT_SECONDS": "2", "FEDERATION_MESSAGE_TTL_SECONDS": "15", "LOG_LEVEL": "WARNING", "FLASK_APP": "wsgi", **env,
        }
        self.proc = None
        self.cli("db", "upgrade")

    def cli(self, *args, **env) -> str:
        result = subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env={**self.env, **env},
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{self.name}: flask {' '.join(args)} failed:\n{result.stderr[-2000:]}"
        return result.stdout

    def start(self):
        log = open(self.folder / "server.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "flask", "run", "--port", str(self.port), "--no-reload", "--no-debugger"],
                                     cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if not healthy(self.url):
            raise AssertionError(f"{self.name} did not start: {(self.folder / 'server.log').read_text()[-2000:]}")
        return self

    def drop_database(self):
        """Removes this process's PostgreSQL database (SQLite files go with the temp folder)."""
        url = self.env["DATABASE_URL"]
        if url.startswith("postgresql"):
            engine = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)"))
            engine.dispose()

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None

    # --- HTTP helpers ---------------------------------------------------------------
    def operator(self) -> dict:
        creds = json.loads(self.cli("create-operator", f"{self.name} 财政厅"))
        token = requests.post(self.url + "/api/v1/oauth/token", data={"grant_type": "client_credentials", **creds}).json()["access_token"]
        return {"Authorization": f"Bearer {token}"}

    def citizen(self, handle="zhangsan") -> dict:
        assertion = requests.post(self.url + "/api/v1/demo/assertion", json={"citizen": handle}).json()["assertion"]
        resp = requests.post(self.url + "/api/v1/auth/citizen", json={"assertion": assertion})
        assert resp.status_code == 200, resp.text
        return {"Authorization": f"Bearer {resp.json()['access_token']}"}

    def unit(self, operator: dict, name: str, credit_code: str, kind="social_insurance") -> dict:
        created = requests.post(self.url + "/api/v1/admin/units", headers=operator, json={
            "name": name, "credit_code": credit_code, "kind": kind, "province": self.province})
        assert created.status_code == 201, created.text
        token = requests.post(self.url + "/api/v1/oauth/token", data={
            "grant_type": "client_credentials", "client_id": created.json()["client_id"],
            "client_secret": created.json()["client_secret"]}).json()["access_token"]
        return {"Authorization": f"Bearer {token}"}


# --- the cluster's actors, shared by the process tests ---------------------------------

HOSPITAL = {"name": "三亚中心医院", "credit_code": "12460200428201234X"}


class Hospital:
    """A Hainan hospital's billing system pushing to node 46 with standardwebhooks."""

    def __init__(self, node: Process, operator: dict):
        self.node = node
        self.key = ec.generate_private_key(ec.SECP256R1())
        pem = self.key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        created = requests.post(node.url + "/api/v1/admin/issuers", headers=operator, json={**HOSPITAL, "province": "46",
                                                                                         "public_key_pem": pem, "alg": "ES256"})
        assert created.status_code == 201, created.text
        self.issuer_id, self.secret = created.json()["id"], created.json()["webhook_secret"]

    def push(self, event_type: str, data: dict) -> requests.Response:
        body = json.dumps({"type": event_type, "data": data}, ensure_ascii=False)
        msg_id = f"msg_{uuid.uuid4().hex}"
        now = datetime.now(timezone.utc)
        headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": Webhook(self.secret).sign(msg_id, now, body), "content-type": "application/json"}
        return requests.post(f"{self.node.url}/api/v1/issuers/{self.issuer_id}/webhook", data=body.encode(), headers=headers)

    def issue(self) -> dict:
        data = copy.deepcopy(SAMPLE_RECEIPT)
        data["issuer"] = dict(HOSPITAL)
        data["payer"] = {"name": "张三", "id_type": "resident_id", "id_number": ZHANG_SAN_ID}
        data["number"] = f"{uuid.uuid4().int % 10**10:010d}"
        signed = sign_es256(self.key, data)
        resp = self.push("receipt.issued", signed)
        assert resp.status_code == 202, resp.text
        return signed


def key_of(receipt: dict) -> str:
    return f"{receipt['code']}-{receipt['number']}"


def wait_until(predicate, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def wallet(node: Process, headers: dict) -> dict:
    return {r["key"]: r for r in requests.get(node.url + "/api/v1/me/receipts", headers=headers).json()["items"]}
