"""Public verification by elements: authentic or not, no personal data, rate-limited."""
import pytest

from tests.support import ZHANG_SAN_ID


@pytest.fixture()
def sent(operator):
    return operator.register_hospital().issue(payer_id=ZHANG_SAN_ID)[1]


def elements(receipt, **changes):
    base = {k: receipt[k] for k in ("code", "number", "check_code", "issue_date", "total_amount")}
    return {**base, **changes}


def test_authentic_receipt_shows_status_and_nothing_personal(client, sent):
    resp = client.post("/api/v1/verify", json=elements(sent))
    assert resp.status_code == 200
    body = resp.json
    assert body["authentic"] is True and body["display_status"] == "正常" and body["issuer"]["name"] == "三亚中心医院"
    text = resp.get_data(as_text=True)
    assert ZHANG_SAN_ID not in text and "张三" not in text and "payer" not in body


@pytest.mark.parametrize("change", [
    {"check_code": "AAAAAA"}, {"issue_date": "2025-11-21"}, {"total_amount": "356.81"}, {"number": "0000000000"},
])
def test_a_wrong_element_answers_exactly_like_an_unknown_receipt(client, sent, change):
    wrong = client.post("/api/v1/verify", json=elements(sent, **change))
    unknown = client.post("/api/v1/verify", json=elements(sent, code="46060124", number="9999999999"))
    assert wrong.status_code == unknown.status_code == 200
    assert wrong.json == unknown.json == {"authentic": False}


@pytest.mark.parametrize("change", [{"code": "4606"}, {"total_amount": 356.8}, {"issue_date": "20251120"}, {"extra": 1}])
def test_malformed_elements_are_422(client, sent, change):
    resp = client.post("/api/v1/verify", json=elements(sent, **change))
    assert resp.status_code == 422 and resp.json["code"] == "validation_failed"


def test_verification_is_rate_limited_per_client(app, client, sent, monkeypatch):
    monkeypatch.setitem(app.config, "VERIFY_RATE_LIMIT", "3 per minute")
    from backend.extensions import limiter

    limiter.reset()
    statuses = [client.post("/api/v1/verify", json=elements(sent), environ_base={"REMOTE_ADDR": "10.1.1.1"}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.post("/api/v1/verify", json=elements(sent), environ_base={"REMOTE_ADDR": "10.1.1.1"})
    assert limited.json["code"] == "rate_limited" and limited.mimetype == "application/problem+json"
    other = client.post("/api/v1/verify", json=elements(sent), environ_base={"REMOTE_ADDR": "10.1.1.2"})
    assert other.status_code == 200
    limiter.reset()


def test_behind_a_proxy_the_forwarded_client_is_rate_limited(app, sent, monkeypatch):
    from backend import create_app
    from backend.extensions import limiter

    proxied = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "PROXY_FIX_HOPS": 1,
                          "VERIFY_RATE_LIMIT": "2 per minute", "RATELIMIT_STORAGE_URI": "memory://"})
    client = proxied.test_client()
    limiter.reset()
    first = [client.post("/api/v1/verify", json=elements(sent), headers={"X-Forwarded-For": "203.0.113.7"}).status_code for _ in range(3)]
    other = client.post("/api/v1/verify", json=elements(sent), headers={"X-Forwarded-For": "203.0.113.8"}).status_code
    limiter.reset()
    assert first == [200, 200, 429] and other == 200
