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


def test_a_request_id_that_could_be_an_id_number_never_reaches_a_log(client):
    import io

    from backend.common.logging import build_handler

    stream = io.StringIO()
    handler = build_handler(stream, as_json=True)
    logging.getLogger().addHandler(handler)
    try:
        answers = [client.get("/healthz", headers={"X-Request-ID": header})
                   for header in ("460200199001011234", "req-460200199001011234", "46020019900101123X", "460200900101123")]
        client.get("/api/v1/me/receipts", headers={"X-Request-ID": "460200199001011234"})
    finally:
        logging.getLogger().removeHandler(handler)
    for resp in answers:
        assert re.fullmatch(r"[0-9a-f]{32}", resp.headers["X-Request-ID"])
    assert stream.getvalue() and "4602001990" not in stream.getvalue() and "460200900101123" not in stream.getvalue()


def test_every_field_of_a_log_record_is_redacted(app):
    import io

    from backend.common.logging import build_handler

    stream = io.StringIO()
    handler = build_handler(stream, as_json=True)
    logger = logging.getLogger("piaojia.test-redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.info("hello %s", "460200199001011234", extra={"path": "/api/v1/me/receipts/460200199001011234",
                                                            "receipt_key": "460200199001011234", "nested": {"ids": ["460100198505052345"]}})
        try:
            raise ValueError("bad id 460200199001011234")
        except ValueError:
            logger.exception("failed for %s", "x")
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["message"] == "hello [redacted]" and lines[0]["path"] == "/api/v1/me/receipts/[redacted]"
    assert lines[0]["receipt_key"] == "[redacted]" and lines[0]["nested"] == {"ids": ["[redacted]"]}
    assert "ValueError: bad id [redacted]" in lines[1]["exc_info"]
    assert "4602001990" not in stream.getvalue() and "4601001985" not in stream.getvalue()


def test_an_id_number_in_a_url_never_reaches_the_access_log(client, caplog):
    import io

    from backend.common.logging import build_handler

    stream = io.StringIO()
    handler = build_handler(stream, as_json=True)
    logging.getLogger().addHandler(handler)
    try:
        client.get("/api/v1/me/receipts/460200199001011234")
        client.get("/api/v1/anything/460200199001011234")
    finally:
        logging.getLogger().removeHandler(handler)
    assert "/api/v1/me/receipts/[redacted]" in stream.getvalue() and "460200199001011234" not in stream.getvalue()


def test_docker_and_compose_agree_with_the_readme():
    dockerfile = (ROOT / "Dockerfile").read_text()
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    readme = (ROOT / "README.md").read_text()
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.M).group(1))
    assert cmd == compose["services"]["web"]["command"] == ["granian", "--interface", "wsgi", "wsgi:app"]
    # The live stream has its own asyncio server, and the proxy sends exactly that path to it.
    stream = compose["services"]["stream"]["command"]
    assert stream[:4] == ["granian", "--interface", "asgi", "--factory"] and stream[-1] == "backend.stream_app:create_app"
    nginx = compose["configs"]["nginx"]["content"]
    stream_location = nginx.split("location = /api/v1/me/stream {")[1].split("}")[0]
    assert "proxy_pass http://stream:8001;" in stream_location and "proxy_buffering off;" in stream_location
    # The compose workers split the queues between them, cover every one, and run as the README says.
    from backend.common.queues import ALL_QUEUES

    workers = [compose["services"][name]["command"] for name in ("worker", "worker-webhooks")]
    assert all(command[:3] == ["python", "-m", "backend.worker"] for command in workers)
    assert sorted(q for command in workers for q in command[3:]) == sorted(ALL_QUEUES)
    for command in workers:
        assert " ".join(command[1:]) in readme
    assert compose["services"]["migrate"]["command"] == ["flask", "--app", "wsgi", "db", "upgrade"]
    assert "/healthz" in dockerfile and "/readyz" in str(compose["services"]["web"]["healthcheck"])
    # The image carries what the web process serves (/app/) and the bot; compose runs the bot.
    assert "COPY miniapp_mock miniapp_mock" in dockerfile and "COPY bots bots" in dockerfile
    assert compose["services"]["bot"]["command"][-1] == "bots.app:app"
    assert compose["services"]["bot"]["environment"]["PIAOJIA_API_URL"] == "http://web:8000"
    for line in ("granian --interface wsgi wsgi:app", "backend.stream_app:create_app", "python -m backend.worker", "flask --app wsgi db upgrade",
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
