"""The push-adapter interface for chat channels (the bot plugs in here).

An adapter sends one message to one chat user and says whether the channel accepted it.
The quota bookkeeping (WeChat-style one-time subscriptions: one message per subscription)
lives in the ChatBinding rows, not in adapters.
"""
import logging
from typing import Protocol

from flask import current_app

log = logging.getLogger(__name__)


class PushAdapter(Protocol):
    def send(self, channel: str, external_id: str, message: dict) -> tuple[bool, str | None]:
        ...


class OutboxOnlyAdapter:
    """Default adapter: records the message in the bot's pull queue (Redis list, or the
    process log in the embedded default), where `bots/` picks it up through the API."""

    def send(self, channel, external_id, message):
        from backend.common.redis_client import get_redis
        import json

        redis = get_redis()
        if redis is not None:
            redis.rpush(f"piaojia:chat:{channel}:{external_id}", json.dumps(message, ensure_ascii=False))
            redis.ltrim(f"piaojia:chat:{channel}:{external_id}", -200, -1)
        log.info("chat push queued", extra={"channel": channel, "event_id": message.get("id")})
        return True, None


def get_push_adapter() -> PushAdapter:
    return current_app.extensions.get("piaojia_push_adapter") or OutboxOnlyAdapter()


def set_push_adapter(app, adapter: PushAdapter):
    app.extensions["piaojia_push_adapter"] = adapter
