"""The only module that touches wechatpy (pinned 1.8.18, from 2021). Everything the adapter
uses of it is here, behind two small names, so that replacing it is a local change:

- `sign(*parts)`: WeChat's signature, sha1 over the sorted parts (wechatpy's WeChatSigner);
- `MessageCipher`: the WXBizMsgCrypt payload cipher (wechatpy's PrpCrypto: AES-256-CBC,
  IV = key[:16], PKCS#7 to 32-byte blocks, 16 random bytes + length + xml + app id).

What we deliberately do NOT take from wechatpy:
- its XML parsing (xmltodict; safe only with a recent xmltodict that refuses entities by
  default): we parse every envelope and message ourselves with defusedxml;
- its signature comparisons (plain `!=`): we compare with hmac.compare_digest;
- its random prefix (`random.sample`, not a CSPRNG): replaced with `secrets` below;
- its envelope builder: ours is in crypto.py.
"""
import base64
import binascii
import hmac
import secrets
import string
import struct

from wechatpy.crypto import PrpCrypto
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.utils import WeChatSigner

from bots.wechat.errors import DecryptError, InvalidAppId

_ALPHABET = string.ascii_letters + string.digits


def sign(*parts: str) -> str:
    """sha1 hex digest of the parts sorted and joined (WeChat's `signature`/`msg_signature`)."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def signature_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode("ascii"), given.strip().lower().encode("ascii", "replace"))


def decode_aes_key(encoding_aes_key: str) -> bytes:
    """The 43-character EncodingAESKey → the 32-byte AES key (ValueError when it is not one)."""
    if not isinstance(encoding_aes_key, str) or len(encoding_aes_key) != 43:
        raise ValueError("WECHAT_ENCODING_AES_KEY must be the 43-character EncodingAESKey")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as exc:
        raise ValueError("WECHAT_ENCODING_AES_KEY is not valid base64") from exc
    if len(key) != 32:  # pragma: no cover - 43 valid base64 chars + "=" are always 32 bytes
        raise ValueError("WECHAT_ENCODING_AES_KEY must decode to 32 bytes")
    return key


class _SecurePrpCrypto(PrpCrypto):
    """wechatpy's cipher with a CSPRNG for the 16-byte random prefix."""

    def get_random_string(self):
        return "".join(secrets.choice(_ALPHABET) for _ in range(16))


class MessageCipher:
    """Encrypts and decrypts the `Encrypt` payload of safe-mode messages for one app."""

    def __init__(self, encoding_aes_key: str, app_id: str):
        self._key = decode_aes_key(encoding_aes_key)
        self._app_id = app_id

    def encrypt(self, xml: str) -> str:
        """Base64 ciphertext of `xml` for our app id."""
        out = _SecurePrpCrypto(self._key).encrypt(xml, self._app_id)
        return out.decode("ascii") if isinstance(out, bytes) else out

    def decrypt(self, ciphertext: str) -> str:
        """The xml inside `ciphertext`; InvalidAppId when it was made for another app,
        DecryptError when it is not a well-formed payload at all."""
        try:
            raw = base64.b64decode(ciphertext, validate=True)
        except (binascii.Error, ValueError, TypeError) as exc:
            raise DecryptError("ciphertext is not base64") from exc
        if not raw or len(raw) % 32:
            # AES blocks are 16 bytes but WeChat pads to 32; anything else was never theirs.
            raise DecryptError("ciphertext length is not a multiple of 32 bytes")
        try:
            # wechatpy does not check the padding: a wrong key or a truncated message shows up
            # as a length or app-id mismatch, or as undecodable text.
            return _SecurePrpCrypto(self._key).decrypt(ciphertext, self._app_id)
        except InvalidAppIdException as exc:
            raise InvalidAppId("the message was encrypted for another app id") from exc
        except (ValueError, struct.error, UnicodeDecodeError, IndexError, TypeError) as exc:
            raise DecryptError("ciphertext does not decrypt to a WeChat payload") from exc
