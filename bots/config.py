"""The bot's configuration (DESIGN §9), from environment variables (a `.env` file too)."""
import os

from bots.web import MAX_BODY_BYTES


class BotConfig:
    def __init__(self, env=None):
        env = os.environ if env is None else env
        self.api_url = env.get("PIAOJIA_API_URL", "http://127.0.0.1:5000")
        self.app_url = env.get("PIAOJIA_APP_URL") or self.api_url.rstrip("/") + "/app/"
        self.client_id = env.get("BOT_CLIENT_ID")
        self.client_secret = env.get("BOT_CLIENT_SECRET")
        self.push_secret = env.get("BOT_PUSH_SECRET")
        self.redis_url = env.get("BOT_REDIS_URL") or None
        self.wechat_token = env.get("WECHAT_TOKEN")
        self.wechat_app_id = env.get("WECHAT_APP_ID")
        self.wechat_app_secret = env.get("WECHAT_APP_SECRET")
        self.wechat_aes_key = env.get("WECHAT_ENCODING_AES_KEY") or None
        self.wechat_api_base = env.get("WECHAT_API_BASE", "https://api.weixin.qq.com")
        self.wechat_template_id = env.get("WECHAT_TEMPLATE_ID") or None
        self.reply_budget_seconds = float(env.get("BOT_REPLY_BUDGET_SECONDS", "4"))
        self.max_body_bytes = int(env.get("BOT_MAX_BODY_BYTES", str(MAX_BODY_BYTES)))
