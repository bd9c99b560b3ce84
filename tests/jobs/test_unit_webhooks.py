"""Unit webhooks: signed deliveries, retries, 410, dead letters, redelivery, SSRF guard.
Jobs run inline here (embedded default); tests/jobs/test_worker_*.py runs them on RQ."""
import json

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from backend.extensions import db
from backend.notifications.jobs import deliver_event
from backend.sweeper import sweep
from backend.events.models import OutboxEvent
from backend.notifications.models import Notification, UnitWebhookDelivery
from backend.units.models import Unit
from tests.receiver import Receiver
from tests.support import UnitClient, receipt_key


@pytest.fixture()
def fast_retries(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_SCHEDULE", (0, 0, 0))


@pytest.fixture()
def setup(operator):
    hospital = operator.register_hospital()
    unit = UnitClient.open(operator)
    _, sent = hospital.issue()
    return hospital, unit, sent


def register(unit, url):
    resp = unit.client.put("/api/v1/unit/webhook", headers=unit.headers, json={"url": url})
    assert resp.status_code == 200, resp.json
    assert resp.json["secret"].startswith("whsec_")
    return resp.json["secret"]


def run_due():
    """What the sweeper does every 30 s, run now (retries of 0 s are due at once)."""
    for _ in range(10):
        if not any(sweep().values()):
            break


def test_events_reach_the_unit_signed_and_once(setup):
    _, unit, sent = setup
    with Receiver() as receiver:
        secret = register(unit, receiver.url)
        token = unit.lock_with_proof(sent).json["lock_token"]
        unit.feedback(receipt_key(sent), token, amount="100.00")
        types = [json.loads(r["body"])["type"] for r in receiver.requests]
        assert types == ["receipt.locked", "receipt.reimbursed", "receipt.unlocked"]
        for r in receiver.requests:
            Webhook(secret).verify(r["body"], r["headers"])  # raises if the signature is wrong
            body = json.loads(r["body"])
            assert set(body) == {"type", "timestamp", "data"} and body["data"]["receipt_key"] == receipt_key(sent)
            assert "id_number" not in r["body"]
        # Running a delivery job again delivers nothing more.
        for event in db.session.scalars(select(OutboxEvent)):
            deliver_event(event.id)
        run_due()
        assert len(receiver.requests) == 3


def test_a_failing_endpoint_is_retried_until_it_answers(setup, fast_retries):
    _, unit, sent = setup
    with Receiver(statuses=(500, 503, 200)) as receiver:
        register(unit, receiver.url)
        unit.lock_with_proof(sent)
        run_due()
        assert [r["headers"]["webhook-id"] for r in receiver.requests] == [receiver.requests[0]["headers"]["webhook-id"]] * 3
        delivery = db.session.scalar(select(UnitWebhookDelivery))
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
        assert [entry["status_code"] for entry in delivery.log] == [500, 503, 200]


def test_after_the_last_try_a_delivery_is_dead_and_can_be_redelivered(setup, fast_retries):
    _, unit, sent = setup
    with Receiver(statuses=(500,)) as receiver:
        register(unit, receiver.url)
        unit.lock_with_proof(sent)
        run_due()
        delivery = db.session.scalar(select(UnitWebhookDelivery))
        assert delivery.status == "dead" and delivery.attempts == 4 and len(receiver.requests) == 4
        listed = unit.get("/webhook/deliveries", status="dead").json["items"]
        assert [d["id"] for d in listed] == [delivery.id] and listed[0]["last_status_code"] == 500
        receiver.statuses = [200]
        resp = unit.post(f"/webhook/deliveries/{delivery.id}/redeliver")
        assert resp.status_code == 202
        db.session.expire_all()
        assert db.session.get(UnitWebhookDelivery, delivery.id).status == "delivered"
        assert len(receiver.requests) == 5


def test_410_disables_the_endpoint(setup, fast_retries):
    _, unit, sent = setup
    with Receiver(statuses=(410,)) as receiver:
        register(unit, receiver.url)
        unit.lock_with_proof(sent)
        run_due()
        assert len(receiver.requests) == 1
        assert db.session.scalar(select(UnitWebhookDelivery)).status == "cancelled"
        assert db.session.get(Unit, unit.id).webhook_url is None


def test_a_timing_out_endpoint_counts_as_a_failure(setup, fast_retries, monkeypatch):
    from backend.notifications import unit_webhooks

    monkeypatch.setattr(unit_webhooks, "READ_TIMEOUT", 0.2)
    _, unit, sent = setup
    with Receiver(statuses=(200,), delay=1.0) as receiver:
        register(unit, receiver.url)
        unit.lock_with_proof(sent)
        delivery = db.session.scalar(select(UnitWebhookDelivery))
        assert delivery.status == "pending" and delivery.last_error == "ReadTimeout"


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/x", "https://10.0.0.8/x", "https://192.168.1.1/x", "https://[::1]/x",
    "https://169.254.169.254/latest", "https://localhost/x", "ftp://example.com/x", "https://user:pw@example.com/x",
])
def test_ssrf_guard_refuses_private_targets(app, setup, monkeypatch, url):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE_TARGETS", False)
    _, unit, _ = setup
    resp = unit.client.put("/api/v1/unit/webhook", headers=unit.headers, json={"url": url})
    assert resp.status_code == 422 and resp.json["code"] in {"unsafe_webhook_target", "validation_failed"}
    assert db.session.get(Unit, unit.id).webhook_url is None


def test_units_hear_only_about_their_receipts(operator, setup):
    hospital, unit, sent = setup
    other = UnitClient.open(operator)
    with Receiver() as mine, Receiver() as theirs:
        register(unit, mine.url)
        register(other, theirs.url)
        unit.lock_with_proof(sent)
        assert len(mine.requests) == 1 and theirs.requests == []


def test_citizen_inbox_gets_one_chinese_message_per_event(setup):
    hospital, unit, sent = setup
    unit.lock_with_proof(sent)
    notes = db.session.scalars(select(Notification).order_by(Notification.id)).all()
    assert [n.type for n in notes] == ["receipt.issued", "receipt.locked"]
    assert notes[0].title == "收到一张新的电子票据" and "扫码授权" in notes[0].body
    assert "报销中" in notes[1].title and unit.name in notes[1].body
    assert len({n.payer_hash for n in notes}) == 1
    for event in db.session.scalars(select(OutboxEvent)):
        deliver_event(event.id)
    assert db.session.scalar(select(db.func.count()).select_from(Notification)) == 2


@pytest.mark.parametrize("url", [
    "https://[64:ff9b::a00:1]/x", "https://[64:ff9b::7f00:1]/x", "https://[64:ff9b::a9fe:a9fe]/x",  # NAT64 → 10/8, 127/8, 169.254/16
    "https://[64:ff9b:1::a00:1]/x",  # local-use NAT64
    "https://[2002:a00:1::1]/x", "https://[2002:c0a8:101::1]/x",  # 6to4 of 10.0.0.1, 192.168.1.1
    "https://[::ffff:a00:1]/x", "https://[::ffff:a9fe:a9fe]/x",  # IPv4-mapped 10.0.0.1, 169.254.169.254
    "https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/x",  # Teredo (client 10.0.0.1)
    "https://[::a00:1]/x",  # deprecated IPv4-compatible
])
def test_ssrf_guard_refuses_ipv6_addresses_that_carry_a_private_ipv4(app, setup, monkeypatch, url):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE_TARGETS", False)
    _, unit, _ = setup
    resp = unit.client.put("/api/v1/unit/webhook", headers=unit.headers, json={"url": url})
    assert resp.status_code == 422 and resp.json["code"] == "unsafe_webhook_target", url
    assert db.session.get(Unit, unit.id).webhook_url is None


@pytest.mark.parametrize("url", ["https://[64:ff9b::808:808]/x", "https://[2002:808:808::1]/x", "https://[2606:4700::1111]/x"])
def test_ssrf_guard_lets_public_ipv6_targets_through(app, setup, monkeypatch, url):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE_TARGETS", False)
    _, unit, _ = setup
    assert unit.client.put("/api/v1/unit/webhook", headers=unit.headers, json={"url": url}).status_code == 200


def _tls_for(hostname, tmp_path):
    """A CA file the client trusts and a server context with a certificate for `hostname`."""
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Piaojia test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False).sign(ca_key, hashes.SHA256()))
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "server.pem")
    return tmp_path / "ca.pem", server


def test_delivery_connects_to_the_address_that_was_checked(app, setup, monkeypatch, tmp_path):
    """DNS rebinding: the unit's host name resolves to a (stand-in) public address when the
    guard checks it and to an internal one when the delivery would resolve it again. Only the
    checked address gets the request, with the host name in Host, SNI and the certificate."""
    import socket

    from backend.notifications import unit_webhooks

    hostname, checked, internal = "hooks.unit.test", "127.0.0.2", "127.0.0.1"
    ca_file, tls = _tls_for(hostname, tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE_TARGETS", False)
    monkeypatch.setattr(unit_webhooks, "_public_address", lambda ip: ip == checked)  # 127.0.0.2 plays a public address
    _, unit, sent = setup
    with Receiver(host=checked, tls=tls) as good, Receiver(host=internal, port=good.port, tls=tls) as internal_service:
        real_getaddrinfo, answers = socket.getaddrinfo, []

        def rebinding_dns(host, port, *args, **kwargs):
            if host != hostname:
                return real_getaddrinfo(host, port, *args, **kwargs)
            answers.append(checked if not answers else internal)
            return real_getaddrinfo(answers[-1], port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
        register(unit, f"https://{hostname}:{good.port}/hooks/piaojia")
        answers.clear()
        unit.lock_with_proof(sent)
    assert internal_service.requests == []
    assert answers == [checked]  # resolved once, by the guard
    assert [json.loads(r["body"])["type"] for r in good.requests] == ["receipt.locked"]
    assert good.requests[0]["headers"]["Host"] == f"{hostname}:{good.port}"
    assert db.session.scalar(select(UnitWebhookDelivery)).status == "delivered"
