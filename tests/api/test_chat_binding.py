"""Binding a chat account (DESIGN §9): one-time codes, redeemed only by the bot, delegated
scope-limited tokens, revoked from either side or by signing out everywhere."""
import jwt

from tests.support import Bot, bearer, citizen_login


def _login(client):
    assertion = client.post("/api/v1/demo/assertion", json={"citizen": "zhangsan"}).json["assertion"]
    return client.post("/api/v1/auth/citizen", json={"assertion": assertion}).json


def test_a_code_binds_once_and_gives_a_delegated_token_limited_in_scope(client, operator):
    zhang = citizen_login(client)
    bot = Bot(client)
    issued = client.post("/api/v1/me/chat-binding-codes", headers=zhang)
    assert issued.status_code == 201 and len(issued.json["code"]) == 6 and "+00:00" in issued.json["expires_at"]
    bound = bot.redeem(issued.json["code"], "wx-openid-9")
    assert bound.status_code == 201 and bound.json["scope"] == "chat" and bound.json["citizen"] == {"name": "张三"}
    assert jwt.decode(bound.json["access_token"], options={"verify_signature": False})["scope"] == "chat"
    assert bot.redeem(issued.json["code"], "wx-openid-9").json["code"] == "invalid_binding_code"  # single use
    delegated = bearer(bound.json["access_token"])
    assert client.get("/api/v1/me/receipts", headers=delegated).status_code == 200
    assert client.get("/api/v1/me/claims", headers=delegated).status_code == 200
    assert client.get("/api/v1/me/notifications", headers=delegated).status_code == 200
    for method, path in [("post", "/api/v1/me/scans"), ("post", "/api/v1/me/chat-binding-codes"),
                         ("post", "/api/v1/me/authorization-requests/x/approve"), ("post", "/api/v1/me/stream-tickets")]:
        refused = client.open(path, method=method.upper(), headers=delegated, json={"qr_text": "x", "receipt_keys": ["46060125-0000000001"]})
        assert refused.status_code == 403 and refused.json["code"] == "insufficient_scope", path
    # Refreshing keeps the scope.
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": bound.json["refresh_token"]}).json
    assert refreshed["scope"] == "chat" and jwt.decode(refreshed["access_token"], options={"verify_signature": False})["scope"] == "chat"


def test_codes_expire_and_guesses_are_limited_per_chat_account(client, app):
    zhang = citizen_login(client)
    bot = Bot(client)
    code = client.post("/api/v1/me/chat-binding-codes", headers=zhang).json["code"]
    wrong = "000000" if code != "000000" else "111111"
    statuses = [bot.redeem(wrong, "wx-guesser").status_code for _ in range(6)]
    assert statuses[:5] == [400] * 5 and statuses[5] == 429
    assert bot.redeem(code, "wx-guesser").status_code == 429  # even the right code, from that account, for a while
    assert bot.redeem(code, "wx-honest").status_code == 201  # other accounts are unaffected
    from backend.chat import services

    original = services.CODE_TTL
    services.CODE_TTL = type(original)(seconds=-1)
    try:
        stale = client.post("/api/v1/me/chat-binding-codes", headers=zhang).json["code"]
    finally:
        services.CODE_TTL = original
    assert bot.redeem(stale, "wx-late").json["code"] == "invalid_binding_code"


def test_a_new_code_voids_the_earlier_one_and_codes_per_citizen_are_limited(client):
    zhang = citizen_login(client)
    bot = Bot(client)
    first = client.post("/api/v1/me/chat-binding-codes", headers=zhang).json["code"]
    second = client.post("/api/v1/me/chat-binding-codes", headers=zhang).json["code"]
    if first != second:
        assert bot.redeem(first, "wx-a").json["code"] == "invalid_binding_code"
    statuses = [client.post("/api/v1/me/chat-binding-codes", headers=zhang).status_code for _ in range(9)]
    assert statuses[-1] == 429


def test_only_the_bot_redeems_codes(client, operator):
    zhang = citizen_login(client)
    code = client.post("/api/v1/me/chat-binding-codes", headers=zhang).json["code"]
    body = {"code": code, "channel": "wechat", "external_id": "wx-self"}
    assert client.post("/api/v1/chat/bindings", headers=zhang, json=body).status_code == 401  # a citizen token is no client token
    assert client.post("/api/v1/chat/bindings", headers=operator.headers, json=body).status_code == 403


def test_unbinding_from_either_side_or_signing_out_everywhere_ends_the_delegated_token(client):
    bot = Bot(client)
    session = _login(client)
    zhang = bearer(session["access_token"])
    by_citizen = bot.bind(zhang, "wx-1")
    assert client.delete(f"/api/v1/me/chat-bindings/{by_citizen['binding_id']}", headers=zhang).status_code == 204
    assert client.get("/api/v1/me/receipts", headers=bearer(by_citizen["access_token"])).json["code"] == "session_revoked"
    by_bot = bot.bind(zhang, "wx-2")
    assert client.delete(f"/api/v1/chat/bindings/{by_bot['binding_id']}", headers=bot.headers).status_code == 204
    assert client.get("/api/v1/me/receipts", headers=bearer(by_bot["access_token"])).status_code == 401
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": by_bot["refresh_token"]}).status_code == 401
    last = bot.bind(zhang, "wx-3")
    other_session = _login(client)
    assert client.post("/api/v1/auth/logout", json={"refresh_token": session["refresh_token"], "everywhere": True}).status_code == 204
    assert client.get("/api/v1/me/receipts", headers=bearer(last["access_token"])).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(other_session["access_token"])).status_code == 401
    bindings = client.get("/api/v1/me/chat-bindings", headers=citizen_login(client)).json["items"]
    assert bindings and not any(b["active"] for b in bindings)


def _wrong(code):
    return "000000" if code != "000000" else "111111"


def test_wrong_codes_from_many_chat_accounts_do_not_lock_binding_for_everyone(client):
    """The probe's shape: 200 wrong `绑定 NNNNNN` messages (here 40 chat accounts, each up to
    its own limit) used to exhaust the bot's limit and lock binding for every citizen."""
    zhang = citizen_login(client)
    bot = Bot(client)
    code = client.post("/api/v1/me/chat-binding-codes", headers=zhang).json["code"]
    statuses = {bot.redeem(_wrong(code), f"wx-guesser-{n}").status_code for n in range(40) for _ in range(5)}
    assert statuses == {400}
    assert bot.redeem(code, "wx-honest").status_code == 201


def test_the_bot_backstop_is_out_of_reach_of_one_account_but_still_there(client, app, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "BINDING_FAILURES_PER_BOT", "10 per hour")  # lowered to keep the test short
    zhang = citizen_login(client)
    bot = Bot(client)
    code = client.post("/api/v1/me/chat-binding-codes", headers=zhang).json["code"]
    alone = [bot.redeem(_wrong(code), "wx-guesser").status_code for _ in range(30)]
    assert alone[:5] == [400] * 5 and set(alone[5:]) == {429}  # refused at its own limit: not counted for the bot
    for account in ("wx-second", "wx-third"):
        for _ in range(5):
            bot.redeem(_wrong(code), account)
    refused = bot.redeem(code, "wx-honest")
    assert refused.status_code == 429 and refused.json["code"] == "too_many_attempts"
    assert any("binding backstop reached" in r.getMessage() for r in caplog.records)
    other_bot = Bot(client)
    assert other_bot.redeem(code, "wx-honest").status_code == 201  # the backstop is this bot's own


def test_only_the_bot_that_made_a_binding_changes_it(client):
    zhang = citizen_login(client)
    first, second = Bot(client), Bot(client)
    bound = first.bind(zhang, "wx-owner")
    path = f"/api/v1/chat/bindings/{bound['binding_id']}"
    granted = client.post(path + "/subscriptions", headers=second.headers, json={"messages": 5})
    assert granted.status_code == 404 and granted.json["code"] == "chat_binding_not_found"
    assert client.delete(path, headers=second.headers).status_code == 404
    code = client.post("/api/v1/me/chat-binding-codes", headers=zhang).json["code"]
    taken = second.redeem(code, "wx-owner")  # nor can it take the chat account over by redeeming a code for it
    assert taken.status_code == 409 and taken.json["code"] == "chat_account_bound_elsewhere"
    listed = client.get("/api/v1/me/chat-bindings", headers=zhang).json["items"]
    assert [(b["active"], b["quota_remaining"]) for b in listed] == [(True, 0)]
    assert client.get("/api/v1/me/receipts", headers=bearer(bound["access_token"])).status_code == 200
    # The bot that made it still changes it; once it has ended, another bot may bind the account anew.
    assert client.post(path + "/subscriptions", headers=first.headers, json={"messages": 5}).json["quota_remaining"] == 5
    assert client.delete(path, headers=first.headers).status_code == 204
    rebound = second.redeem(client.post("/api/v1/me/chat-binding-codes", headers=zhang).json["code"], "wx-owner")
    assert rebound.status_code == 201
    assert client.delete(path, headers=first.headers).status_code == 404
    assert client.delete(f"/api/v1/chat/bindings/{rebound.json['binding_id']}", headers=second.headers).status_code == 204
