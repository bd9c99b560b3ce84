"""WeChat official-account (公众号) protocol adapter of the Piaojia bot: callback signature
checks and safe-mode encryption (crypto), message parsing and passive replies (messages), the
callback handler with deduplication (handler, dedup) and outgoing API calls (sender).
Framework-free: bots.app wires `handle` into a Flask route."""
from bots.wechat.crypto import WeChatCodec
from bots.wechat.dedup import DedupStore, SeenStore, StoreDedup
from bots.wechat.errors import (
    DecryptError,
    HostileXML,
    InvalidAppId,
    InvalidSignature,
    MalformedMessage,
    MessageTooLarge,
    SendFailed,
    StaleTimestamp,
    WeChatError,
)
from bots.wechat.handler import handle
from bots.wechat.messages import Incoming, dedup_key, parse_incoming, text_reply
from bots.wechat.sender import (
    DEFAULT_MENU,
    NotAllowed,
    Sent,
    WeChatSender,
    default_menu,
)

__all__ = [
    "DEFAULT_MENU", "DecryptError", "DedupStore", "HostileXML", "Incoming", "InvalidAppId",
    "InvalidSignature", "MalformedMessage", "MessageTooLarge", "NotAllowed", "SeenStore",
    "SendFailed", "Sent", "StaleTimestamp", "StoreDedup", "WeChatCodec", "WeChatError",
    "WeChatSender", "dedup_key", "default_menu", "handle", "parse_incoming", "text_reply",
]
