"""The callback URL of the official account, framework-free: `handle(...)` takes the raw body
and the query arguments and returns (status, body, content_type) for the web layer to send.

    GET  ?signature&timestamp&nonce&echostr           → 200 echostr (URL verification)
    POST ?signature&timestamp&nonce[&encrypt_type=aes&msg_signature]  + XML body
         → 200 passive reply XML (encrypted in safe mode), or "success" (no reply)
         → 403 bad/stale signature, a ciphertext for another app, or a (timestamp, nonce)
               already used with another body
         → 400 malformed or hostile XML, undecryptable payload
         → 413 body over the cap
         → 500 when `respond` raised (WeChat retries; the push is not marked seen)

`respond(incoming)` is called once per distinct push (MsgId, or FromUserName + CreateTime for
events) with every parsed message: text, events (subscribe — `incoming.scene` set when it came
through a QR with a scene —, scan with `incoming.scene`, unsubscribe, click with
`incoming.event_key`, view, ...) and message types the bot does not know (to answer politely).
It returns the reply text, or None (or "") for no reply. WeChat waits 5 seconds for the answer: what
takes longer must be answered with "success" now and sent later through the sender.

In plain mode the signature covers the query's timestamp and nonce but not the body: a captured
query string could carry any body while its timestamp is within the skew. So each signed
(timestamp, nonce) is remembered in `nonces` for as long as the timestamp is accepted
(`nonce_ttl`) and serves one body only: the same body again is WeChat's retry (answered through
the MsgId deduplication), another body is refused.
"""
import hashlib
import logging
from collections.abc import Callable, Mapping

from bots.wechat.crypto import WeChatCodec
from bots.wechat.dedup import DedupStore, SeenStore, StoreDedup
from bots.wechat.errors import InvalidSignature, MalformedMessage, MessageTooLarge
from bots.wechat.messages import (
    EVENT_UNSUBSCRIBE,
    Incoming,
    dedup_key,
    parse_incoming,
    text_reply,
)

__all__ = ["DedupStore", "Response", "SeenStore", "StoreDedup", "handle", "nonce_ttl"]

log = logging.getLogger(__name__)

TEXT = "text/plain; charset=utf-8"
XML = "application/xml; charset=utf-8"
SUCCESS = "success"

Response = tuple[int, str, str]


def nonce_ttl(codec: WeChatCodec) -> float:
    """How long a (timestamp, nonce) must be remembered: a timestamp is accepted from max_skew
    before our clock to max_skew after it."""
    return 2 * codec.max_skew if codec.max_skew is not None else 24 * 3600.0


def handle(codec: WeChatCodec, raw_body: bytes, args: Mapping[str, str],
           respond: Callable[[Incoming], str | None], seen: SeenStore, *,
           method: str | None = None, nonces: SeenStore | None = None) -> Response:
    """One callback request (see the module doc). `method` "GET" is URL verification; when it
    is not given, a request with `echostr` and no body is taken as one. `nonces` remembers the
    signed (timestamp, nonce) pairs (`seen` when not given; its TTL should be `nonce_ttl`)."""
    is_verification = (method or "").upper() == "GET" or (method is None and "echostr" in args and not raw_body)
    if is_verification:
        return _verify(codec, args)

    try:
        xml = codec.decode(raw_body or b"", args)
        incoming = parse_incoming(xml, max_bytes=codec.max_body_bytes)
    except MessageTooLarge:
        return 413, "too large", TEXT
    except InvalidSignature as exc:
        log.warning("wechat callback refused: %s", type(exc).__name__)
        return 403, "forbidden", TEXT
    except MalformedMessage as exc:
        log.warning("wechat callback unreadable: %s", type(exc).__name__)
        return 400, "bad request", TEXT

    if not _claim_nonce(nonces if nonces is not None else seen, args, raw_body or b""):
        log.warning("wechat callback refused: timestamp and nonce already used with another body")
        return 403, "forbidden", TEXT

    key = dedup_key(incoming)
    if not seen.add(key):
        log.info("wechat push already handled (%s)", incoming.msg_type)
        return 200, SUCCESS, TEXT
    try:
        text = respond(incoming)
    except Exception:
        # Let WeChat's retry have another go instead of swallowing the push.
        seen.delete(key)
        log.exception("wechat respond failed (%s/%s)", incoming.msg_type, incoming.event)
        return 500, "error", TEXT

    if not text or incoming.event == EVENT_UNSUBSCRIBE:
        return 200, SUCCESS, TEXT  # WeChat delivers nothing to a user who just unsubscribed
    reply = text_reply(incoming, text, now=codec.clock())
    return 200, codec.encode_reply(reply, nonce=args.get("nonce") or "", timestamp=args.get("timestamp")), XML


def _claim_nonce(nonces: SeenStore, args: Mapping[str, str], body: bytes) -> bool:
    """False when this signed (timestamp, nonce) already came with another body."""
    stamp = f"{args.get('timestamp')}:{args.get('nonce') or ''}"
    if not nonces.add(f"{stamp}:{hashlib.sha256(body).hexdigest()}"):
        return True  # this very request again: a retry, answered by the MsgId deduplication
    return nonces.add(stamp)


def _verify(codec: WeChatCodec, args: Mapping[str, str]) -> Response:
    try:
        echo = codec.verify_url(args.get("signature"), args.get("timestamp"), args.get("nonce"),
                                args.get("echostr"), msg_signature=args.get("msg_signature"))
    except InvalidSignature as exc:
        log.warning("wechat URL verification refused: %s", type(exc).__name__)
        return 403, "forbidden", TEXT
    except MalformedMessage as exc:
        log.warning("wechat URL verification unreadable: %s", type(exc).__name__)
        return 400, "bad request", TEXT
    return 200, echo, TEXT
