"""Health probes, structured logs without personal data, and the deployment files."""
import json
import logging
import re
from pathlib import Path

import yaml

from backend import create_app

ROOT = Path(__file__).resolve().parents[2]


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {"database": "ok"}


def test_readyz_fails_when_configured_redis_is_unreachable(app, tmp_path):
    broken = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": "redis://127.0.0.1:1/0",
                         "RATELIMIT_STORAGE_URI": "memory://"})
    resp = broken.test_client().get("/readyz")
    assert resp.status_code == 503 and resp.json["status"] == "not_ready" and resp.json["checks"]["redis"].startswith("error")


def test_every_log_line_carries_the_request_id_and_no_id_number(app, client, operator, caplog):
    from tests.support import ZHANG_SAN_ID

    hospital = operator.register_hospital()
    with caplog.at_level(logging.INFO):
        resp, _ = hospital.issue(payer_id=ZHANG_SAN_ID)
        logging.getLogger("piaojia.test").info("payer %s tried", ZHANG_SAN_ID)
    request_id = resp.headers["X-Request-ID"]
    lines = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    assert lines and any(r.name == "piaojia.access" for r in lines)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert ZHANG_SAN_ID not in text and "[redacted]" in text


def test_request_ids_are_reused_when_sane_and_replaced_when_not(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    replaced = client.get("/healthz", headers={"X-Request-ID": "bad id; DROP" + "x" * 80}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)


def test_json_log_lines(app, capsys):
    from backend.common.logging import RequestContextFilter
    from pythonjsonlogger.json import JsonFormatter

    record = logging.LogRecord("piaojia.x", logging.INFO, __file__, 1, "hello %s", ("460200199001011234",), None)
    RequestContextFilter().filter(record)
    line = JsonFormatter("%(levelname)s %(name)s %(message)s %(request_id)s").format(record)
    assert json.loads(line)["message"] == "hello [redacted]"


def test_docker_and_compose_agree_with_the_readme():
    dockerfile = (ROOT / "Dockerfile").read_text()
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    readme = (ROOT / "README.md").read_text()
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.M).group(1))
    assert cmd == compose["services"]["web"]["command"] == ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
    # The compose workers split the queues between them, cover every one, and run as the README says.
    from backend.common.queues import ALL_QUEUES

    workers = [compose["services"][name]["command"] for name in ("worker", "worker-webhooks")]
    assert all(command[:3] == ["python", "-m", "backend.worker"] for command in workers)
    assert sorted(q for command in workers for q in command[3:]) == sorted(ALL_QUEUES)
    for command in workers:
        assert " ".join(command[1:]) in readme
    assert compose["services"]["migrate"]["command"] == ["flask", "--app", "wsgi", "db", "upgrade"]
    assert "/healthz" in dockerfile and "/readyz" in str(compose["services"]["web"]["healthcheck"])
    for line in ("gunicorn -c gunicorn.conf.py wsgi:app", "python -m backend.worker", "flask --app wsgi db upgrade",
                 "./scripts/run.sh", "./scripts/test.sh"):
        assert line in readme
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("exec ./scripts/test.sh")


def test_nul_characters_are_refused_everywhere(client, operator):
    from tests.support import citizen_login

    zhang = citizen_login(client, "zhangsan")
    for resp in (
        client.post("/api/v1/verify", json={"code": "4606\u00000125", "number": "0", "check_code": "x", "issue_date": "x", "total_amount": "x"}),
        client.get("/api/v1/me/receipts?q=a%00b", headers=zhang),
        client.get("/api/v1/me/receipts/4606%00", headers=zhang),
        client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": "a\x00b", "client_secret": "x"}),
    ):
        assert resp.status_code == 400 and resp.json["code"] == "invalid_characters", resp.get_data(as_text=True)


def test_out_of_range_cursors_are_422(client, operator):
    from tests.support import UnitClient, citizen_login

    zhang = citizen_login(client, "zhangsan")
    assert client.get("/api/v1/me/notifications?cursor=99999999999999999999", headers=zhang).status_code == 422
    unit = UnitClient.open(operator)
    import base64

    huge = base64.urlsafe_b64encode(b"99999999999999999999").decode().rstrip("=")
    assert unit.get("/receipts", cursor=huge).json["code"] == "invalid_cursor"
