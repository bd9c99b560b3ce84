"""Federation messages: compact JWS, ES256 with `kid` and nothing else accepted.

Claims: `iss` (the sender's province, or `hub`), `aud` (the receiver's: one string, never a
list), `jti` (unique),
`iat`/`exp` (at most FEDERATION_MESSAGE_TTL_SECONDS apart, default 300), `typ` (the message
type) and `body`. A message whose `kid` is not a valid key of the province it claims to come
from is refused: a node cannot speak for another province.
"""
import time
import uuid

import jwt
from flask import current_app

from backend.common.errors import DomainError
from backend.federation import keys

ALGORITHM = "ES256"
LEEWAY_SECONDS = 30


class MessageRefused(DomainError):
    status = 401
    code = "federation_message_refused"
    title = "跨省消息验证失败"


def me() -> str:
    return "hub" if current_app.config.get("NODE_ROLE") == "hub" else current_app.config["NODE_PROVINCE"]


def seal(msg_type: str, body: dict, aud: str, *, jti: str | None = None) -> str:
    now = int(time.time())
    ttl = int(current_app.config["FEDERATION_MESSAGE_TTL_SECONDS"])
    claims = {"iss": me(), "aud": aud, "jti": jti or uuid.uuid4().hex, "iat": now, "exp": now + ttl, "typ": msg_type, "body": body}
    return jwt.encode(claims, keys.signing_key(), algorithm=ALGORITHM, headers={"kid": keys.current_kid(), "typ": "JWT"})


def peek(token: str) -> tuple[dict, dict]:
    """Header and claims, unverified (to find the sender's keys)."""
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 2_000_000:
        raise MessageRefused("Not a compact JWS.", code="not_a_jws")
    try:
        return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, UnicodeError):
        raise MessageRefused("The message cannot be read.", code="not_a_jws")


def open_(token: str, key_lookup, *, audience: str | None = None) -> dict:
    """Verified claims. `key_lookup(province, kid)` gives the sender's public key or None."""
    header, unverified = peek(token)
    if header.get("alg") != ALGORITHM:
        raise MessageRefused(f"Algorithm {header.get('alg')!r} is not accepted.", code="algorithm_not_allowed")
    sender, kid = unverified.get("iss"), header.get("kid")
    if not isinstance(sender, str) or not isinstance(kid, str):
        raise MessageRefused("The message names no sender or key.", code="unknown_key")
    key = key_lookup(sender, kid)
    if key is None:
        raise MessageRefused(f"Key {kid!r} is not a valid key of {sender!r}.", code="unknown_key")
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=audience or me(), leeway=LEEWAY_SECONDS,
                            options={"require": ["iss", "aud", "jti", "iat", "exp"]})
    except jwt.ExpiredSignatureError:
        raise MessageRefused("The message has expired.", code="message_expired")
    except jwt.InvalidAudienceError:
        raise MessageRefused("The message is addressed to someone else.", code="wrong_audience")
    except jwt.PyJWTError as exc:
        raise MessageRefused(f"The message does not verify: {type(exc).__name__}.")
    if not isinstance(claims.get("aud"), str):  # one receiver per message: a list could be replayed to each of them
        raise MessageRefused("A message has exactly one audience.", code="wrong_audience")
    ttl = int(current_app.config["FEDERATION_MESSAGE_TTL_SECONDS"])
    if not isinstance(claims.get("iat"), int) or claims["exp"] - claims["iat"] > ttl or claims["iat"] > time.time() + LEEWAY_SECONDS:
        raise MessageRefused(f"A message may live at most {ttl} s.", code="message_lifetime")
    if not isinstance(claims.get("typ"), str) or not isinstance(claims.get("body"), dict) or not isinstance(claims["jti"], str) \
            or not 8 <= len(claims["jti"]) <= 64:
        raise MessageRefused("The message lacks a type, a body or a proper id.", code="malformed_message")
    return claims
