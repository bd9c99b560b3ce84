"""Signature checks and safe-mode (安全模式) encryption of the official account's callback URL.

Plain mode (no EncodingAESKey): every request carries `signature` = sha1(sorted [token,
timestamp, nonce]) in the query; the body is the message XML and replies are plain XML.

Safe mode (EncodingAESKey set): messages come with `encrypt_type=aes` and `msg_signature` =
sha1(sorted [token, timestamp, nonce, Encrypt]); the body is an envelope whose `Encrypt`
holds the message; replies are encrypted into the same kind of envelope. A plain message is
refused in safe mode (403): configure the key only once the account is switched to safe mode
(or compatible mode, which also sends `encrypt_type=aes`).

The timestamp of every signed request must be within `max_skew` seconds of our clock (a
captured request cannot be replayed later; WeChat's own retries come within ~15 s).
"""
import time
from collections.abc import Mapping

from bots.wechat import _wechatpy_adapter as _wx
from bots.wechat.errors import (
    InvalidSignature,
    MalformedMessage,
    MessageTooLarge,
    StaleTimestamp,
)
from bots.wechat.messages import MAX_BODY_BYTES, cdata, child_texts, parse_xml

DEFAULT_MAX_SKEW = 300


class WeChatCodec:
    def __init__(self, token: str, app_id: str, encoding_aes_key: str | None = None, *,
                 max_skew: float | None = DEFAULT_MAX_SKEW, clock=time.time,
                 max_body_bytes: int = MAX_BODY_BYTES):
        """`max_skew=None` turns the timestamp bound off (not recommended)."""
        if not token:
            raise ValueError("WECHAT_TOKEN is required")
        if not app_id:
            raise ValueError("WECHAT_APP_ID is required")
        self.token = token
        self.app_id = app_id
        self.max_skew = max_skew
        self.clock = clock
        self.max_body_bytes = max_body_bytes
        self._cipher = _wx.MessageCipher(encoding_aes_key, app_id) if encoding_aes_key else None

    @property
    def safe_mode(self) -> bool:
        return self._cipher is not None

    # -- signatures -------------------------------------------------------------------------

    def _check_timestamp(self, timestamp) -> None:
        try:
            ts = int(str(timestamp).strip())
        except (TypeError, ValueError):
            raise StaleTimestamp("timestamp missing or not an integer") from None
        if self.max_skew is not None and abs(self.clock() - ts) > self.max_skew:
            raise StaleTimestamp("timestamp outside the allowed skew")

    def check_signature(self, signature: str | None, timestamp: str | None, nonce: str | None) -> None:
        """Plain `signature` check (URL verification, plain-mode messages); InvalidSignature
        (StaleTimestamp for the clock bound) when it fails."""
        self._check_timestamp(timestamp)
        expected = _wx.sign(self.token, str(timestamp), nonce or "")
        if not _wx.signature_matches(expected, signature):
            raise InvalidSignature("signature mismatch")

    def _check_msg_signature(self, msg_signature, timestamp, nonce, encrypted: str) -> None:
        self._check_timestamp(timestamp)
        expected = _wx.sign(self.token, str(timestamp), nonce or "", encrypted)
        if not _wx.signature_matches(expected, msg_signature):
            raise InvalidSignature("msg_signature mismatch")

    # -- URL verification (the GET WeChat sends when the callback URL is saved) -------------

    def verify_url(self, signature: str | None, timestamp: str | None, nonce: str | None,
                   echostr: str | None, msg_signature: str | None = None) -> str:
        """The text to answer the verification GET with. An official account sends echostr in
        clear with `signature` in every mode; a request that carries `msg_signature` instead
        (encrypted echostr, as WeCom and third-party platforms do) is checked and decrypted."""
        if echostr is None:
            raise MalformedMessage("echostr missing")
        if msg_signature:
            if not self.safe_mode:
                raise InvalidSignature("encrypted echostr but no EncodingAESKey configured")
            self._check_msg_signature(msg_signature, timestamp, nonce, echostr)
            return self._cipher.decrypt(echostr)
        self.check_signature(signature, timestamp, nonce)
        return echostr

    # -- messages -----------------------------------------------------------------------------

    def decode(self, body: bytes, params: Mapping[str, str]) -> str:
        """The message XML of a POSTed callback, authenticated (and decrypted in safe mode).
        InvalidSignature → 403, MalformedMessage → 400, MessageTooLarge → 413."""
        if body is None:
            body = b""
        if len(body) > self.max_body_bytes:
            raise MessageTooLarge(f"body over {self.max_body_bytes} bytes")
        timestamp, nonce = params.get("timestamp"), params.get("nonce")
        encrypted = (params.get("encrypt_type") or "").lower() == "aes"
        if not self.safe_mode:
            if encrypted:
                raise InvalidSignature("encrypted message but no EncodingAESKey configured")
            self.check_signature(params.get("signature"), timestamp, nonce)
            try:
                return body.decode("utf-8") if isinstance(body, bytes) else body
            except UnicodeDecodeError as exc:
                raise MalformedMessage("body is not UTF-8") from exc
        if not encrypted:
            raise InvalidSignature("plain message refused in safe mode")
        # Authenticate before decrypting; the envelope itself is parsed with defusedxml.
        envelope = child_texts(parse_xml(body, max_bytes=self.max_body_bytes))
        ciphertext = (envelope.get("Encrypt") or "").strip()
        if not ciphertext:
            raise MalformedMessage("Encrypt missing from the envelope")
        self._check_msg_signature(params.get("msg_signature"), timestamp, nonce, ciphertext)
        return self._cipher.decrypt(ciphertext)

    def encode_reply(self, xml: str, nonce: str, timestamp: str | int | None = None) -> str:
        """`xml` as the response body: as is in plain mode; in safe mode encrypted into
        <xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>."""
        if not self.safe_mode:
            return xml
        timestamp = str(int(self.clock()) if timestamp is None else int(str(timestamp).strip()))
        nonce = nonce or ""
        ciphertext = self._cipher.encrypt(xml)
        signature = _wx.sign(self.token, timestamp, nonce, ciphertext)
        return (
            "<xml>"
            f"<Encrypt>{cdata(ciphertext)}</Encrypt>"
            f"<MsgSignature>{cdata(signature)}</MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp>"
            f"<Nonce>{cdata(nonce)}</Nonce>"
            "</xml>"
        )
