"""The bot as deployed: its Flask app against a live Piaojia node over HTTP, WeChat safe-mode
messages made by the reference implementation of the tests, a loopback stand-in of the
WeChat API, and the backend pushing through the bot."""
import threading
import time
import uuid

import pytest
from werkzeug.serving import make_server

from backend.clients.services import create_client
from backend.extensions import db
from bots.app import create_app as create_bot
from bots.config import BotConfig
from bots.store import MemoryStore
from tests.bots.test_wechat_protocol import (
    APP_ID,
    KEY43,
    OPENID,
    SECRET,
    TOKEN,
    StandIn,
    event_xml,
    open_safe_reply,
    ref_encrypt,
    ref_sign,
)
from tests.support import ZHANG_SAN_ID, UnitClient, citizen_login, receipt_key

PUSH_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Live:
    """A WSGI app on a loopback port."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture()
def node(app_ctx):
    live = Live(app_ctx)
    yield live
    live.close()


@pytest.fixture()
def wechat_api():
    stand_in = StandIn()
    yield stand_in
    stand_in.close()


@pytest.fixture()
def bot(app_ctx, node, wechat_api):
    client, secret = create_client("bot", "票夹助手")
    db.session.commit()
    config = BotConfig({"PIAOJIA_API_URL": node.url, "BOT_CLIENT_ID": client.client_id, "BOT_CLIENT_SECRET": secret,
                        "BOT_PUSH_SECRET": PUSH_SECRET, "WECHAT_TOKEN": TOKEN, "WECHAT_APP_ID": APP_ID,
                        "WECHAT_APP_SECRET": SECRET, "WECHAT_ENCODING_AES_KEY": KEY43, "WECHAT_API_BASE": wechat_api.base,
                        "WECHAT_TEMPLATE_ID": "tmpl-receipt-status"})
    app = create_bot(config, store=MemoryStore())
    return app


def say(bot, text, openid=OPENID, msg_id=None) -> str:
    """A safe-mode text message as WeChat sends it; the decrypted reply's content."""
    ts, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
    xml = (f"<xml><ToUserName><![CDATA[gh_piaojia]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
           f"<CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content>"
           f"<MsgId>{msg_id or uuid.uuid4().int % 10**15}</MsgId></xml>")
    return _post(bot, xml, ts, nonce)


def _post(bot, xml, ts, nonce):
    encrypt = ref_encrypt(xml)
    body = f"<xml><ToUserName><![CDATA[gh_piaojia]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    query = {"signature": ref_sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "encrypt_type": "aes",
             "msg_signature": ref_sign(TOKEN, ts, nonce, encrypt)}
    resp = bot.test_client().post("/wechat", query_string=query, data=body.encode())
    assert resp.status_code == 200, resp.get_data(as_text=True)
    text = resp.get_data(as_text=True)
    return "" if text == "success" else open_safe_reply(text, nonce)["Content"]


def test_bind_by_code_then_ask_in_wechat(app_ctx, client, operator, bot):
    hospital = operator.register_hospital()
    hospital.issue(payer_id=ZHANG_SAN_ID)
    zhang = citizen_login(client)
    assert "绑定" in say(bot, "我的票据")  # not bound yet: told how to bind
    code = client.post("/api/v1/me/chat-binding-codes", headers=zhang).json["code"]
    assert "绑定成功" in say(bot, f"绑定 {code}")
    bindings = client.get("/api/v1/me/chat-bindings", headers=zhang).json["items"]
    assert [(b["channel"], b["external_id"], b["active"]) for b in bindings] == [("wechat", OPENID, True)]
    answer = say(bot, "我的票据")
    assert "三亚中心医院" in answer and "¥356.80" in answer
    assert "绑定失败" in say(bot, f"绑定 {code}", openid="o-someone-else")  # single use


def test_unsubscribing_ends_the_binding_and_its_token(app_ctx, client, bot):
    zhang = citizen_login(client)
    code = client.post("/api/v1/me/chat-binding-codes", headers=zhang).json["code"]
    assert "绑定成功" in say(bot, f"绑定 {code}")
    token = bot.extensions["piaojia_bot"].store.get(f"binding:wechat:{OPENID}")["access_token"]
    ts, nonce = str(int(time.time())), "n-unsub"
    assert _post(bot, event_xml("unsubscribe", create_time=int(ts)), ts, nonce) == ""
    assert client.get("/api/v1/me/receipts", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert not client.get("/api/v1/me/chat-bindings", headers=zhang).json["items"][0]["active"]


def test_binding_by_scanning_a_qr_with_the_code_as_scene(app_ctx, client, bot):
    zhang = citizen_login(client)
    code = client.post("/api/v1/me/chat-binding-codes", headers=zhang).json["code"]
    ts, nonce = str(int(time.time())), "n-scene"
    assert "绑定成功" in _post(bot, event_xml("subscribe", key=f"qrscene_{code}", create_time=int(ts)), ts, nonce)


def test_web_chat_with_the_citizens_own_token(app_ctx, client, operator, bot):
    operator.register_hospital().issue(payer_id=ZHANG_SAN_ID)
    zhang = citizen_login(client)
    resp = bot.test_client().post("/chat", headers=zhang, json={"message": "我的票据"})
    assert resp.status_code == 200 and "三亚中心医院" in resp.json["reply"]
    assert bot.test_client().post("/chat", json={"message": "我的票据"}).status_code == 401
    assert bot.test_client().post("/chat", headers=zhang, json={"message": ""}).status_code == 422


def test_a_reimbursement_is_pushed_to_the_bound_wechat_account(app, app_ctx, client, operator, bot, wechat_api, monkeypatch):
    from backend.notifications.push import BotHttpAdapter, set_push_adapter

    live_bot = Live(bot)
    monkeypatch.setitem(app.extensions, "piaojia_push_adapter", None)
    set_push_adapter(app, BotHttpAdapter(live_bot.url + "/push", PUSH_SECRET))
    try:
        zhang = citizen_login(client)
        code = client.post("/api/v1/me/chat-binding-codes", headers=zhang).json["code"]
        assert "绑定成功" in say(bot, f"绑定 {code}")  # the user wrote just now: inside the 48-hour window
        _, sent = operator.register_hospital().issue(payer_id=ZHANG_SAN_ID)
        unit = UnitClient.open(operator)
        lock = unit.lock_with_proof(sent).json
        assert unit.feedback(receipt_key(sent), lock["lock_token"], amount="100.00").status_code == 201
        texts = [c["raw"].decode() for c in wechat_api.calls_to("/cgi-bin/message/custom/send")]
        assert any("报销" in t for t in texts), texts
        assert all(OPENID in t for t in texts)
        pushes = client.get("/api/v1/me/chat-bindings", headers=zhang).json["items"][0]["recent_pushes"]
        assert pushes and all(p["status"] == "sent" for p in pushes)
        # Outside the window, with no subscription left: nothing is sent, the inbox keeps it.
        bot.extensions["piaojia_bot"].store.delete(f"last-seen:wechat:{OPENID}")
        before = len(wechat_api.calls)
        operator.register_hospital(name="海南省人民医院", credit_code="12460000428200001X").issue(payer_id=ZHANG_SAN_ID)
        assert len(wechat_api.calls_to("/cgi-bin/message/custom/send")) == len(texts) and len(wechat_api.calls) >= before
        latest = client.get("/api/v1/me/chat-bindings", headers=zhang).json["items"][0]["recent_pushes"][0]
        assert latest["status"] == "no_quota"
    finally:
        live_bot.close()


def test_terminal_chat_signs_in_as_a_demo_citizen(app_ctx, operator, node):
    import os
    import subprocess
    import sys
    from pathlib import Path

    operator.register_hospital().issue(payer_id=ZHANG_SAN_ID)
    env = {**os.environ, "PIAOJIA_API_URL": node.url}
    done = subprocess.run([sys.executable, "-m", "bots.console", "zhangsan"], input="我的票据\n帮助\n", capture_output=True,
                          text=True, timeout=60, env=env, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert "票夹助手（zhangsan）" in done.stdout and "三亚中心医院" in done.stdout and "¥356.80" in done.stdout


def test_the_menu_is_published_through_the_wechat_api(bot, wechat_api):
    result = bot.test_cli_runner().invoke(args=["publish-menu"])
    assert result.exit_code == 0 and "menu published" in result.output
    (call,) = wechat_api.calls_to("/cgi-bin/menu/create")
    menu = call["raw"].decode()
    assert "我的票据" in menu and "报销进度" in menu and "/app/" in menu
