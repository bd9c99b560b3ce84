"""The chat bot's own WSGI app (DESIGN §9): `flask --app bots.app run` (gunicorn
`bots.app:app` in production).

- `GET/POST /wechat`: the WeChat official-account callback (plain or safe mode). Answers
  within WeChat's 5 seconds: a reply not ready within BOT_REPLY_BUDGET_SECONDS is sent later
  as a customer-service message.
- `POST /chat`: the web chat of the mini-app's 助手 tab, with the citizen's Bearer token.
- `POST /push`: the backend's push adapter (Standard Webhooks signed with BOT_PUSH_SECRET):
  a customer-service message inside the 48-hour window, else a subscription message while
  the user has one left, else `no_quota` (the inbox has it anyway).

Every body is capped at BOT_MAX_BODY_BYTES (64 KiB) while it is read, chunked or not: more is
413 (problem details on /chat and /push, plain text on /wechat) and is never buffered.
"""
import json
import logging
import threading

from flask import Flask, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from bots.api_client import BotApi, CitizenApi
from bots.config import BotConfig
from bots.core.dialog import Conversation
from bots.core.errors import ApiError
from bots.service import BotService, render_text
from bots.store import make_store
from bots.wechat import sender as wechat_sender
from bots.wechat.crypto import WeChatCodec
from bots.wechat.errors import SendFailed
from bots.wechat.handler import StoreDedup, handle, nonce_ttl
from bots.web import problem, read_body

log = logging.getLogger("piaojia.bot")
MAX_CHAT_CHARS = 500
MENU_TEXT = {
    wechat_sender.MENU_MY_RECEIPTS: "我的票据", wechat_sender.MENU_REIMBURSEMENTS: "报销进度",
    wechat_sender.MENU_VERIFY: "验真", wechat_sender.MENU_AUTHORIZATIONS: "我的授权",
    wechat_sender.MENU_MESSAGES: "消息", wechat_sender.MENU_HELP: "帮助",
}
WELCOME = "欢迎关注票夹！在票夹小程序「我的」页面获取绑定码，发送「绑定 123456」即可查询票据和报销进度。"


def create_app(config: BotConfig | None = None, *, store=None, sender=None) -> Flask:
    cfg = config or BotConfig()
    app = Flask(__name__)
    app.json.ensure_ascii = False
    # read_body refuses more than max_body_bytes itself; Flask's cap (one byte more, so that a
    # body of exactly the limit still passes) guards any other read of the stream.
    app.config["MAX_CONTENT_LENGTH"] = cfg.max_body_bytes + 1
    store = store or make_store(cfg.redis_url)
    bot_api = BotApi(cfg.api_url, cfg.client_id, cfg.client_secret) if cfg.client_id and cfg.client_secret else None
    service = BotService(cfg, store, Conversation(app_url=cfg.app_url, store=store), bot_api)
    codec = (WeChatCodec(cfg.wechat_token, cfg.wechat_app_id or "", cfg.wechat_aes_key, max_body_bytes=cfg.max_body_bytes)
             if cfg.wechat_token else None)
    if sender is None and cfg.wechat_app_id and cfg.wechat_app_secret:
        sender = wechat_sender.WeChatSender(cfg.wechat_api_base, cfg.wechat_app_id, cfg.wechat_app_secret)
    app.extensions["piaojia_bot"] = service
    seen = StoreDedup(store)
    nonces = StoreDedup(store, ttl=nonce_ttl(codec), prefix="wechat:nonce:") if codec else None

    def answer_in_time(openid: str, text: str) -> str | None:
        """The reply if ready within the budget; otherwise None now and a customer-service
        message when it is ready (WeChat gives a callback 5 seconds)."""
        box = {}

        def work():
            try:
                box["text"] = service.answer("wechat", openid, text)
            except Exception:  # noqa: BLE001 - answered politely below
                log.exception("bot reply failed")
                box["text"] = "抱歉，暂时无法处理，请稍后再试。"
            if box.get("late") and sender is not None:
                try:
                    sender.send_text(openid, box["text"])
                except Exception:  # noqa: BLE001 - logged; the user can ask again
                    log.exception("late reply not sent")

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        worker.join(cfg.reply_budget_seconds)
        if worker.is_alive():
            box["late"] = True
            return None
        return box["text"]

    def respond(incoming):
        openid = incoming.from_user
        if incoming.msg_type == "text":
            return answer_in_time(openid, (incoming.content or "")[:MAX_CHAT_CHARS])
        if incoming.event in ("subscribe", "scan"):
            service.touch("wechat", openid)
            if incoming.scene:  # binding by scanning the mini-app's QR (scene = the binding code)
                return service.bind("wechat", openid, incoming.scene)
            return WELCOME if incoming.event == "subscribe" else None
        if incoming.event == "unsubscribe":
            service.unbind("wechat", openid)
            return None
        if incoming.event == "click":
            return answer_in_time(openid, MENU_TEXT.get(incoming.event_key or "", "帮助"))
        if incoming.is_event:
            return None
        return "暂时只能看懂文字消息，发送「帮助」看看我能做什么。"

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc):
        if request.endpoint == "wechat":
            return "too large", 413, {"content-type": "text/plain; charset=utf-8"}  # WeChat reads no body here
        return problem(413, "payload_too_large", "提交的内容过大", f"At most {cfg.max_body_bytes} bytes are accepted.")

    @app.route("/wechat", methods=["GET", "POST"])
    def wechat():
        if codec is None:
            return "wechat not configured", 404
        status, body, content_type = handle(codec, read_body(cfg.max_body_bytes), request.args, respond, seen,
                                            method=request.method, nonces=nonces)
        return body, status, {"content-type": content_type}

    @app.post("/chat")
    def web_chat():
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("bearer "):
            return problem(401, "missing_token", "请先登录")
        data = _json_object(read_body(cfg.max_body_bytes))
        if data is None:
            return problem(400, "invalid_body", "请求内容须为 JSON 对象", 'Send {"message": "…"}.')
        text = data.get("message")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_CHAT_CHARS:
            return problem(422, "invalid_message", "请输入 1 到 500 个字的问题")
        api = CitizenApi(cfg.api_url, header.split(" ", 1)[1].strip())
        try:
            me = api._call("GET", "/me")
        except ApiError as exc:
            return problem(exc.status if exc.status in (401, 403) else 502, exc.code, exc.title)
        reply = service.conversation.reply(f"web:{me['id']}", text, api, _now())
        return jsonify(reply=reply.text, links=[{"label": label, "url": url} for label, url in (reply.links or [])],
                       text=render_text(reply))

    @app.post("/push")
    def push():
        from standardwebhooks import Webhook, WebhookVerificationError

        if not cfg.push_secret:
            return problem(404, "push_not_configured", "未配置推送")
        body = read_body(cfg.max_body_bytes)
        try:
            Webhook(cfg.push_secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            return problem(401, "invalid_signature", "签名无效")
        data = _json_object(body)
        if data is None:
            return problem(400, "invalid_body", "请求内容须为 JSON 对象")
        if data.get("channel") != "wechat" or sender is None:
            return jsonify(status="no_quota", detail="该渠道不支持推送")
        message = data.get("message") or {}
        text = f"{message.get('title', '')}\n{message.get('body', '')}".strip()
        if message.get("receipt_key"):
            text += f"\n查看：{cfg.app_url}#/receipt/{message['receipt_key']}"
        try:
            if service.in_window("wechat", data["external_id"]):
                result = sender.send_text(data["external_id"], text)
                if result.ok:
                    return jsonify(status="sent", spent_quota=False, detail="customer_service")
            if data.get("quota_remaining", 0) > 0 and cfg.wechat_template_id:
                result = sender.send_subscription(data["external_id"], cfg.wechat_template_id, {
                    "thing1": {"value": (message.get("title") or "票据动态")[:20]},
                    "thing2": {"value": (message.get("body") or "")[:20]}}, page=f"{cfg.app_url}#/messages")
                if result.ok:
                    return jsonify(status="sent", spent_quota=True, detail="subscription")
        except SendFailed as exc:
            log.warning("push to wechat failed after retries: %s", exc)
            return problem(503, "wechat_unavailable", "微信接口暂不可用，请稍后重试")
        return jsonify(status="no_quota", spent_quota=False, detail="不在48小时会话窗口内且无订阅消息次数，已保留在消息中心")

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.cli.command("publish-menu")
    def publish_menu():
        """Publish the official account's menu (我的票据 / 报销进度 / 更多…) through the WeChat API."""
        if sender is None:
            raise SystemExit("WECHAT_APP_ID and WECHAT_APP_SECRET are needed to publish the menu.")
        sender.create_menu(wechat_sender.default_menu(cfg.app_url))
        print("menu published")

    return app


def _json_object(body: bytes) -> dict | None:
    """The body as a JSON object; None for anything else (not JSON, an array, a number…)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


app = create_app()  # `flask --app bots.app run`, gunicorn `bots.app:app`; configured from the environment
