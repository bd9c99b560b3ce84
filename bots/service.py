"""The bot's behaviour, whatever the channel: who a chat user is (their binding), what to
answer (the conversational core), how to bind, how to push. Adapters (WeChat, web chat,
terminal) call this; it reaches Piaojia only through its HTTP API."""
import logging
from datetime import datetime, timezone

from bots.api_client import BotApi, CitizenApi
from bots.core.errors import ApiError

log = logging.getLogger(__name__)
WINDOW_SECONDS = 48 * 3600  # WeChat: customer-service messages within 48 h of the user's last message


class BotService:
    def __init__(self, config, store, conversation, bot_api: BotApi | None):
        self.config, self.store, self.conversation, self.bot_api = config, store, conversation, bot_api

    # --- bindings ---------------------------------------------------------------------
    def _key(self, channel: str, user: str) -> str:
        return f"binding:{channel}:{user}"

    def citizen_api(self, channel: str, user: str) -> CitizenApi | None:
        binding = self.store.get(self._key(channel, user))
        if not binding:
            return None

        def remember(pair):
            self.store.set(self._key(channel, user), {**binding, "access_token": pair["access_token"],
                                                       "refresh_token": pair["refresh_token"]})

        return CitizenApi(self.config.api_url, binding["access_token"], binding["refresh_token"], on_refresh=remember,
                          binding_id=binding["binding_id"], bot=self.bot_api)

    def bind(self, channel: str, user: str, code: str) -> str:
        if self.bot_api is None:
            return "机器人尚未配置绑定功能，请联系管理员。"
        try:
            bound = self.bot_api.redeem(code, channel, user)
        except ApiError as exc:
            return f"绑定失败：{exc.title}"
        self.store.set(self._key(channel, user), {"binding_id": bound["binding_id"], "access_token": bound["access_token"],
                                                   "refresh_token": bound["refresh_token"]})
        return f"绑定成功！{bound['citizen']['name']}，您好。发送「我的票据」「报销进度」或「帮助」试试。"

    def forget(self, channel: str, user: str) -> None:
        self.store.delete(self._key(channel, user))

    def unbind(self, channel: str, user: str) -> None:
        binding = self.store.get(self._key(channel, user))
        if binding and self.bot_api is not None:
            try:
                self.bot_api.unbind(binding["binding_id"])
            except ApiError as exc:
                log.warning("unbind failed", extra={"code": exc.code})
        self.forget(channel, user)

    # --- conversation -----------------------------------------------------------------
    def touch(self, channel: str, user: str) -> None:
        self.store.set(f"last-seen:{channel}:{user}", datetime.now(timezone.utc).timestamp(), ttl=WINDOW_SECONDS)

    def answer(self, channel: str, user: str, text: str, api: CitizenApi | None = None) -> str:
        """The reply to one message (`api`: the web chat passes the citizen's own token)."""
        self.touch(channel, user)
        api = api or self.citizen_api(channel, user)
        reply = self.conversation.reply(f"{channel}:{user}", text, api, datetime.now(timezone.utc))
        if getattr(reply, "bind_code", None):
            return self.bind(channel, user, reply.bind_code)
        if getattr(reply, "unbound", False) and channel != "web":
            self.forget(channel, user)
        return render_text(reply)

    def in_window(self, channel: str, user: str) -> bool:
        return self.store.get(f"last-seen:{channel}:{user}") is not None


def render_text(reply) -> str:
    lines = [reply.text]
    for label, url in getattr(reply, "links", None) or []:
        lines.append(f"{label}：{url}")
    return "\n".join(lines)
