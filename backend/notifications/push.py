"""The push-adapter interface for chat channels (the bot plugs in here).

An adapter delivers one message to one chat user and says how: `sent` (and whether it spent
one of the user's one-time-subscription messages), `no_quota` (the channel allows nothing
now: outside WeChat's 48-hour window and no subscription left — the inbox has it anyway),
or `failed`. A transient failure raises `PushUnavailable`: the delivery job fails and is
retried, so no push is lost (channels deduplicate by event).
"""
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

import requests
from flask import current_app

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PushResult:
    status: str  # sent | no_quota | failed
    spent_quota: bool = False
    detail: str | None = None


class PushUnavailable(Exception):
    """The channel could not be reached now; try the whole delivery again later."""


class PushAdapter(Protocol):
    def send(self, channel: str, external_id: str, message: dict, quota_remaining: int) -> PushResult:
        ...


class InboxOnlyAdapter:
    """No bot configured: nothing leaves the node; the inbox and the live stream carry it."""

    def send(self, channel, external_id, message, quota_remaining):
        return PushResult("no_quota", detail="未配置聊天机器人，消息已存入票夹消息中心")


class BotHttpAdapter:
    """Pushes through the bot (`BOT_PUSH_URL`, signed the Standard Webhooks way with
    `BOT_PUSH_SECRET`); the bot chooses a customer-service message inside WeChat's 48-hour
    window, else a subscription message if the user has one left."""

    def __init__(self, url: str, secret: str, timeout: float = 5.0):
        from standardwebhooks import Webhook

        self.url, self.webhook, self.timeout = url, Webhook(secret), timeout

    def send(self, channel, external_id, message, quota_remaining):
        body = json.dumps({"channel": channel, "external_id": external_id, "message": message,
                           "quota_remaining": quota_remaining}, ensure_ascii=False)
        msg_id = f"msg_{message.get('id') or uuid.uuid4().hex}_{external_id}"[:120]
        now = datetime.now(timezone.utc)
        headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": self.webhook.sign(msg_id, now, body), "content-type": "application/json"}
        try:
            resp = requests.post(self.url, data=body.encode(), headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise PushUnavailable(f"bot unreachable: {type(exc).__name__}") from exc
        if resp.status_code >= 500 or resp.status_code == 429:
            raise PushUnavailable(f"bot answered {resp.status_code}")
        if resp.status_code >= 400:
            return PushResult("failed", detail=f"bot refused: {resp.status_code}")
        answer = resp.json()
        return PushResult(answer.get("status", "failed"), bool(answer.get("spent_quota")), answer.get("detail"))


def get_push_adapter() -> PushAdapter:
    adapter = current_app.extensions.get("piaojia_push_adapter")
    if adapter is not None:
        return adapter
    if current_app.config.get("BOT_PUSH_URL") and current_app.config.get("BOT_PUSH_SECRET"):
        adapter = BotHttpAdapter(current_app.config["BOT_PUSH_URL"], current_app.config["BOT_PUSH_SECRET"])
        current_app.extensions["piaojia_push_adapter"] = adapter
        return adapter
    return InboxOnlyAdapter()


def set_push_adapter(app, adapter: PushAdapter):
    app.extensions["piaojia_push_adapter"] = adapter
