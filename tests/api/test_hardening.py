"""Regression tests of issue 8's findings: no 5xx from hostile input, brute force limited,
single-use assertions, sessions that end at once, stream tickets."""
import json
import time
import uuid

import jwt
import pytest
from sqlalchemy import func, select

from backend.citizens.models import Citizen
from backend.extensions import db
from tests.api.test_citizen_auth import claims, demo_key, demo_kid, login
from tests.support import ZHANG_SAN_ID, UnitClient, bearer, citizen_login, receipt_key

DEEP_ARRAY = "[" * 50000 + "]" * 50000
DEEP_OBJECT = '{"a": ' * 20000 + "1" + "}" * 20000


def _post_raw(client, path, body, headers=None):
    return client.post(path, data=body.encode() if isinstance(body, str) else body,
                       headers={"content-type": "application/json", **(headers or {})})


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["arrays", "objects"])
def test_deeply_nested_json_is_a_400_everywhere(client, operator, body):
    hospital = operator.register_hospital()
    unit = UnitClient.open(operator)
    citizen = citizen_login(client)
    targets = [
        ("/api/v1/auth/citizen", {}), ("/api/v1/verify", {}), ("/api/v1/auth/refresh", {}),
        ("/api/v1/unit/receipts/verify", unit.headers), ("/api/v1/me/scans", citizen),
        (hospital.url, hospital.headers(body)),
    ]
    for path, headers in targets:
        resp = _post_raw(client, path, body, headers)
        assert resp.status_code == 400, (path, resp.status_code)
        assert resp.mimetype == "application/problem+json" and resp.json["code"] == "json_too_deep", path


def test_ordinary_nesting_is_untouched(client, operator):
    hospital = operator.register_hospital()
    assert hospital.issue()[0].status_code == 202


def test_lone_surrogates_are_refused_not_crashed_on(client, operator):
    resp = _post_raw(client, "/api/v1/auth/citizen", '{"assertion": "\\ud800.a.b"}')
    assert resp.status_code == 400 and resp.json["code"] == "invalid_characters"
    hospital = operator.register_hospital()
    data = hospital.receipt()
    data["items"][0]["remark"] = "\ud800"
    body = json.dumps({"type": "receipt.issued", "data": data})  # ASCII-escaped: "\ud800" on the wire
    resp = hospital.post_raw(body)
    assert resp.status_code == 400 and resp.json["code"] == "invalid_characters"
    # A proper pair (an emoji, escaped) is fine Unicode and not refused by the guard.
    ok = _post_raw(client, "/api/v1/auth/citizen", '{"assertion": "\\ud83d\\ude00.a.b"}')
    assert ok.status_code == 401


def test_bytes_that_are_not_utf8_are_refused(client):
    resp = _post_raw(client, "/api/v1/verify", b'{"code": "\xff\xfe"}')
    assert resp.status_code == 400 and resp.json["code"] == "invalid_characters"


@pytest.mark.parametrize("overrides", [
    {"phone": {"x": 1}}, {"id_type": "x" * 100}, {"name": "名" * 110}, {"sub": ["a"]}, {"id_number": 12345678},
    {"name": "   "}, {"jti": 7}, {"id_type": "dragon"}, {"phone": "1" * 40},
], ids=["phone-object", "long-id-type", "long-name", "sub-list", "number-int", "blank-name", "jti-int", "unknown-id-type", "long-phone"])
def test_identity_claims_of_the_wrong_type_or_size_are_refused(app, client, overrides):
    token = jwt.encode(claims(**overrides), demo_key(app), algorithm="ES256", headers={"kid": demo_kid(client)})
    resp = login(client, token)
    assert resp.status_code == 401 and resp.json["code"] == "malformed_claims", resp.json
    assert db.session.scalar(select(func.count()).select_from(Citizen)) == 0


def test_assertions_live_at_most_ten_minutes_and_sign_in_once(app, client):
    now = int(time.time())
    long_lived = jwt.encode(claims(iat=now, exp=now + 3600), demo_key(app), algorithm="ES256", headers={"kid": demo_kid(client)})
    assert login(client, long_lived).json["code"] == "assertion_lifetime"
    no_jti = jwt.encode(claims(jti=None), demo_key(app), algorithm="ES256", headers={"kid": demo_kid(client)})
    assert login(client, no_jti).json["code"] == "missing_claim"
    once = jwt.encode(claims(), demo_key(app), algorithm="ES256", headers={"kid": demo_kid(client)})
    assert login(client, once).status_code == 200
    again = login(client, once)
    assert again.status_code == 401 and again.json["code"] == "assertion_reused"
    demo = client.post("/api/v1/demo/assertion", json={"citizen": "zhangsan"}).json["assertion"]
    assert jwt.decode(demo, options={"verify_signature": False})["jti"]


def _retry_after(resp):
    assert resp.status_code == 429 and resp.mimetype == "application/problem+json", resp.json
    assert int(resp.headers["Retry-After"]) > 0
    return resp.json["code"]


def test_wrong_client_secrets_are_limited_per_client(app, client, operator):
    creds = operator.credentials
    for _ in range(10):
        assert client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": creds["client_id"],
                                                         "client_secret": "wrong"}).status_code == 401
    blocked = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials", **creds})
    assert _retry_after(blocked) == "too_many_attempts"


def test_wrong_client_secrets_are_limited_per_address(app, client):
    statuses = [client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": f"pj_unit_{i}",
                                                          "client_secret": "x"}).status_code for i in range(31)]
    assert statuses[:30] == [401] * 30 and statuses[30] == 429


def test_bad_assertions_are_limited_per_address(client):
    statuses = [login(client, "a.b.c").status_code for _ in range(21)]
    assert statuses[:20] == [401] * 20 and statuses[20] == 429
    # Good sign-ins do not count, and still sign in over the limit (tests/api/test_proof_limits.py).


def test_a_receipt_guessed_wrong_is_closed_to_proof_and_operators_see_it(client, operator):
    """Closed to anonymous proof once enough distinct sources guessed wrong (issue 17: not
    before — one guesser must not lock the holder out); units still prove possession."""
    hospital = operator.register_hospital()
    _, sent = hospital.issue()
    key = receipt_key(sent)
    guessers = [UnitClient.open(operator) for _ in range(2)]
    wrong = {"check_code": "ZZZZZZ", "total_amount": sent["total_amount"]}
    for unit in guessers:  # units' wrong guesses count among the receipt's sources too
        assert unit.lock(key, wrong).status_code == 404
    public = {k: sent[k] for k in ("code", "number", "issue_date", "total_amount")}
    for n in range(18):  # spread over addresses: the receipt's own count of sources still adds up
        assert client.post("/api/v1/verify", json={**public, "check_code": "ZZZZZZ"},
                           environ_base={"REMOTE_ADDR": f"192.0.2.{n + 1}"}).json == {"authentic": False}
    anonymous = client.post("/api/v1/verify", json={**public, "check_code": sent["check_code"]},
                            environ_base={"REMOTE_ADDR": "203.0.113.1"})
    assert _retry_after(anonymous) == "proof_locked"
    honest = UnitClient.open(operator)
    batch = honest.post("/receipts/verify", json={"items": [{"code": sent["code"], "number": sent["number"],
                                                             "check_code": sent["check_code"], "total_amount": sent["total_amount"]}]})
    assert batch.status_code == 200 and batch.json["items"][0]["authentic"] is True
    listed = client.get("/api/v1/admin/proof-lockouts", headers=operator.headers).json["items"]
    assert [item["key"] for item in listed] == [key]
    assert client.delete(f"/api/v1/admin/proof-lockouts/{key}", headers=operator.headers).status_code == 204
    assert client.get("/api/v1/admin/proof-lockouts", headers=operator.headers).json["items"] == []
    assert client.post("/api/v1/verify", json={**public, "check_code": sent["check_code"]},
                       environ_base={"REMOTE_ADDR": "203.0.113.1"}).json["authentic"] is True
    assert honest.lock(key, {"check_code": sent["check_code"], "total_amount": sent["total_amount"]}).status_code == 201


def test_batch_check_code_guesses_count_one_by_one_per_client(client, operator):
    hospital = operator.register_hospital()
    unit = UnitClient.open(operator)
    items = []
    for _ in range(31):
        _, sent = hospital.issue()
        items.append({"code": sent["code"], "number": sent["number"], "check_code": "ZZZZZZ", "total_amount": sent["total_amount"]})
    resp = unit.post("/receipts/verify", json={"items": items})
    assert _retry_after(resp) == "too_many_attempts"
    assert unit.post("/receipts/verify", json={"items": items[:1]}).status_code == 429


def test_logout_ends_the_access_token_at_once(client):
    tokens = client.post("/api/v1/auth/citizen", json={"assertion": client.post(
        "/api/v1/demo/assertion", json={"citizen": "zhangsan"}).json["assertion"]}).json
    headers = bearer(tokens["access_token"])
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}).status_code == 204
    ended = client.get("/api/v1/me", headers=headers)
    assert ended.status_code == 401 and ended.json["code"] == "session_revoked"
    # Another sign-in of the same person is another session and unaffected.
    assert client.get("/api/v1/me", headers=citizen_login(client)).status_code == 200


def test_refresh_token_reuse_ends_the_family_access_tokens_at_once(client):
    first = client.post("/api/v1/auth/citizen", json={"assertion": client.post(
        "/api/v1/demo/assertion", json={"citizen": "zhangsan"}).json["assertion"]}).json
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json["code"] == "refresh_token_reused"
    assert client.get("/api/v1/me", headers=bearer(second["access_token"])).json["code"] == "session_revoked"


def test_session_revocation_goes_through_redis_and_falls_back_to_the_database(app_ctx, client, redis_url):
    from redis import Redis

    from backend.common import sessions
    from tests.jobs.test_redis_outage import redis_at

    with redis_at(app_ctx, redis_url):
        tokens = client.post("/api/v1/auth/citizen", json={"assertion": client.post(
            "/api/v1/demo/assertion", json={"citizen": "zhangsan"}).json["assertion"]}).json
        sid = jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"]
        client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
        assert Redis.from_url(redis_url).exists(sessions.PREFIX + sid)
        assert client.get("/api/v1/me", headers=bearer(tokens["access_token"])).json["code"] == "session_revoked"
    app_ctx.extensions["piaojia_redis"] = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:  # Redis unreachable: the database still knows
        assert client.get("/api/v1/me", headers=bearer(tokens["access_token"])).json["code"] == "session_revoked"
    finally:
        app_ctx.extensions["piaojia_redis"] = None


def test_stream_tickets_are_single_use_short_lived_and_die_with_the_session(app, client):
    tokens = client.post("/api/v1/auth/citizen", json={"assertion": client.post(
        "/api/v1/demo/assertion", json={"citizen": "zhangsan"}).json["assertion"]}).json
    headers = bearer(tokens["access_token"])
    issued = client.post("/api/v1/me/stream-tickets", headers=headers)
    assert issued.status_code == 201 and issued.json["ticket"].startswith("st_") and "+00:00" in issued.json["expires_at"]
    ticket = issued.json["ticket"]
    opened = client.get(f"/api/v1/me/stream?ticket={ticket}", buffered=False)
    assert opened.status_code == 200 and opened.mimetype == "text/event-stream"
    opened.close()
    assert client.get(f"/api/v1/me/stream?ticket={ticket}").json["code"] == "invalid_stream_ticket"
    app.config["STREAM_TICKET_TTL_SECONDS"] = -1
    try:
        stale = client.post("/api/v1/me/stream-tickets", headers=headers).json["ticket"]
    finally:
        app.config["STREAM_TICKET_TTL_SECONDS"] = 60
    assert client.get(f"/api/v1/me/stream?ticket={stale}").status_code == 401
    orphan = client.post("/api/v1/me/stream-tickets", headers=headers).json["ticket"]
    client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert client.get(f"/api/v1/me/stream?ticket={orphan}").status_code == 401


def test_idempotency_keys_compare_the_parsed_body_not_its_whitespace(client, operator):
    hospital = operator.register_hospital()
    unit = UnitClient.open(operator)
    _, sent = hospital.issue()
    key = receipt_key(sent)
    idem = str(uuid.uuid4())
    compact = json.dumps({"check_code": sent["check_code"], "total_amount": sent["total_amount"]}, separators=(",", ":"))
    spaced = json.dumps({"total_amount": sent["total_amount"], "check_code": sent["check_code"]}, indent=4)
    headers = {**unit.headers, "Idempotency-Key": idem, "content-type": "application/json"}
    first = client.post(f"/api/v1/unit/receipts/{key}/lock", data=compact, headers=headers)
    again = client.post(f"/api/v1/unit/receipts/{key}/lock", data=spaced, headers=headers)
    assert first.status_code == 201 and again.status_code == 201 and again.json == first.json
    other = client.post(f"/api/v1/unit/receipts/{key}/lock", data=json.dumps({"check_code": "ZZZZZZ", "total_amount": "1.00"}), headers=headers)
    assert other.status_code == 422


def test_errors_are_documented_as_problem_details(client):
    spec = client.get("/api/v1/openapi.json").json
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["properties"]) and "Error" not in spec["components"]["schemas"]
    default = spec["components"]["responses"]["DEFAULT_ERROR"]["content"]
    assert list(default) == ["application/problem+json"]
    assert ZHANG_SAN_ID not in json.dumps(spec)


def test_a_citizen_lists_sessions_and_signs_one_out(client):
    from tests.support import Bot

    first = client.post("/api/v1/auth/citizen", json={"assertion": client.post(
        "/api/v1/demo/assertion", json={"citizen": "zhangsan"}).json["assertion"]}).json
    second = client.post("/api/v1/auth/citizen", json={"assertion": client.post(
        "/api/v1/demo/assertion", json={"citizen": "zhangsan"}).json["assertion"]}).json
    me = bearer(first["access_token"])
    bound = Bot(client).bind(me, "wx-sessions")
    listed = client.get("/api/v1/me/sessions", headers=me).json["items"]
    assert sorted(s["kind"] for s in listed) == ["app", "app", "chat"]
    assert [s["current"] for s in listed].count(True) == 1
    other = next(s for s in listed if s["kind"] == "app" and not s["current"])
    assert client.delete(f"/api/v1/me/sessions/{other['id']}", headers=me).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(second["access_token"])).json["code"] == "session_revoked"
    chat = next(s for s in listed if s["kind"] == "chat")
    assert client.delete(f"/api/v1/me/sessions/{chat['id']}", headers=me).status_code == 204
    assert client.get("/api/v1/me/receipts", headers=bearer(bound["access_token"])).status_code == 401
    assert not client.get("/api/v1/me/chat-bindings", headers=me).json["items"][0]["active"]
    assert client.delete("/api/v1/me/sessions/not-mine", headers=me).status_code == 404
    assert [s["kind"] for s in client.get("/api/v1/me/sessions", headers=me).json["items"]] == ["app"]
