"""The per-process row cache (API clients, units) on a real server with several worker
processes on PostgreSQL and Redis: a row is served from each worker's copy, and a freeze,
a credential rotation or a cancellation takes effect on every worker as soon as the
operator's request has returned — invalidated through Redis pub/sub, not a TTL."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import postgres_only
from tests.federation.cluster import free_port, healthy

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 3
ROUNDS = 60  # requests on fresh connections after each step: every worker answers some


@pytest.fixture()
def server(tmp_path):
    base, redis_url = os.environ.get("TEST_DATABASE_URL", ""), os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("needs Redis (TEST_REDIS_URL)")
    database_url = base.rsplit("/", 1)[0] + "/piaojia_row_cache"
    admin = create_engine(base.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS piaojia_row_cache WITH (FORCE)"))
        conn.execute(text("CREATE DATABASE piaojia_row_cache"))
    admin.dispose()
    redis_db = int(redis_url.rsplit("/", 1)[1]) - 1  # beside the suite's own db
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "PIAOJIA_", "REDIS", "DATABASE"))},
           "PIAOJIA_ENV": "development", "PIAOJIA_INSTANCE_PATH": str(tmp_path), "DATABASE_URL": database_url,
           "REDIS_URL": redis_url.rsplit("/", 1)[0] + f"/{redis_db}", "LOG_LEVEL": "WARNING", "FLASK_APP": "wsgi"}

    def cli(*args):
        out = subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout

    cli("db", "upgrade")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", str(WORKERS), "--blocking-threads", "2",
                             "--port", str(port), "--log-level", "warning", "--no-ws", "wsgi:app"],
                            cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        assert healthy(url), "the server did not start"
        creds = json.loads(cli("create-operator", "海南省财政厅"))
        yield url, creds, create_engine(database_url)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


def _token(url, client_id, client_secret):
    resp = requests.post(url + "/api/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                             "client_secret": client_secret})
    assert resp.status_code == 200, resp.text
    return {"Authorization": "Bearer " + resp.json()["access_token"]}


def _answers(url, headers):
    """GET /unit/me on ROUNDS fresh connections (spread over the workers): (status, name, status) each."""
    seen = []
    for _ in range(ROUNDS):
        resp = requests.get(url + "/api/v1/unit/me", headers={**headers, "Connection": "close"})
        body = resp.json()
        seen.append((resp.status_code, body.get("name"), body.get("status"), body.get("code")))
    return set(seen)


@postgres_only()
def test_every_worker_serves_its_copy_and_drops_it_when_the_unit_changes(server):
    url, creds, engine = server
    operator = _token(url, creds["client_id"], creds["client_secret"])
    unit = requests.post(url + "/api/v1/admin/units", headers=operator, json={
        "name": "三亚市医疗保障局", "credit_code": "11460200MB12345678", "kind": "social_insurance", "province": "46"}).json()
    headers = _token(url, unit["client_id"], unit["client_secret"])
    time.sleep(1.0)  # every worker's listener subscribed (until then a worker reads the database)
    assert _answers(url, headers) == {(200, "三亚市医疗保障局", "active", None)}

    # Changed behind the application's back: every worker still answers from its copy.
    with engine.begin() as conn:
        conn.execute(text("UPDATE units SET name = '三亚市医保局（改名）' WHERE id = :id"), {"id": unit["id"]})
    assert _answers(url, headers) == {(200, "三亚市医疗保障局", "active", None)}

    # A freeze through the API: no worker answers from its old copy once the freeze has returned.
    frozen = requests.post(url + f"/api/v1/admin/units/{unit['id']}/freeze", headers=operator, json={"reason": "核查"})
    assert frozen.status_code == 200, frozen.text
    assert _answers(url, headers) == {(200, "三亚市医保局（改名）", "frozen", None)}
    locked = requests.post(url + "/api/v1/unit/receipts/46060125-0000000001/lock", headers=headers)
    assert locked.status_code == 403 and locked.json()["code"] == "unit_not_active"
    assert requests.post(url + f"/api/v1/admin/units/{unit['id']}/unfreeze", headers=operator, json={}).status_code == 200

    # A credential rotation: tokens issued before it stop working on every worker.
    time.sleep(1.1)  # the rotation falls in a later second than the token's iat
    rotated = requests.post(url + f"/api/v1/admin/units/{unit['id']}/credentials/rotate", headers=operator).json()
    assert {a[0] for a in _answers(url, headers)} == {401}
    fresh = _token(url, rotated["client_id"], rotated["client_secret"])
    assert _answers(url, fresh) == {(200, "三亚市医保局（改名）", "active", None)}

    # A cancellation (its clients are disabled by one Core UPDATE): refused on every worker.
    assert requests.post(url + f"/api/v1/admin/units/{unit['id']}/cancel", headers=operator, json={"reason": "撤销"}).status_code == 200
    assert {(a[0], a[3]) for a in _answers(url, fresh)} == {(401, "invalid_client")}


@postgres_only()
def test_an_issuers_credentials_are_cached_and_a_disable_or_key_retirement_holds_on_every_worker(server):
    import copy
    from types import SimpleNamespace

    from tests.federation.cluster import Hospital
    from tests.support import sign_es256

    url, creds, engine = server
    operator = _token(url, creds["client_id"], creds["client_secret"])
    hospital = Hospital(SimpleNamespace(url=url), operator)
    time.sleep(1.0)

    def deliveries():
        answers = set()
        for _ in range(ROUNDS // 2):
            data = copy.deepcopy(hospital_receipt)
            data["number"] = f"{time.perf_counter_ns() % 10**10:010d}"
            resp = hospital.push("receipt.issued", sign_es256(hospital.key, data))
            answers.add((resp.status_code, resp.json().get("code")))
        return answers

    from tests.support import SAMPLE_RECEIPT
    hospital_receipt = {**copy.deepcopy(SAMPLE_RECEIPT), "issuer": {"name": "三亚中心医院", "credit_code": "12460200428201234X"}}
    hospital_receipt.pop("signature", None)
    assert deliveries() == {(202, None)}

    # Disabled behind the application's back: the workers keep authenticating from their copies.
    with engine.begin() as conn:
        conn.execute(text("UPDATE issuers SET status = 'disabled' WHERE id = :id"), {"id": hospital.issuer_id})
    assert deliveries() == {(202, None)}
    with engine.begin() as conn:
        conn.execute(text("UPDATE issuers SET status = 'active' WHERE id = :id"), {"id": hospital.issuer_id})

    # Disabled through the API: refused by every worker at once.
    assert requests.post(url + f"/api/v1/admin/issuers/{hospital.issuer_id}/disable", headers=operator, json={}).status_code == 200
    assert deliveries() == {(403, "issuer_disabled")}
    assert requests.post(url + f"/api/v1/admin/issuers/{hospital.issuer_id}/enable", headers=operator, json={}).status_code == 200
    assert deliveries() == {(202, None)}

    # Its only seal key retired (a child row of the cached issuer): seals stop verifying everywhere.
    keys = requests.get(url + f"/api/v1/admin/issuers/{hospital.issuer_id}/keys", headers=operator).json()
    retired = requests.post(url + f"/api/v1/admin/issuers/{hospital.issuer_id}/keys/{keys[0]['id']}/retire", headers=operator, json={})
    assert retired.status_code == 200, retired.text
    assert deliveries() == {(422, "invalid_receipt_signature")}
