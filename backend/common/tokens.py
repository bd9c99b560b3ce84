"""Short-lived signed access tokens for citizens and API clients (JWT, RFC 8725 style).

HS256 under a key derived from SECRET_KEY; `kid` names that key so a rotation can keep the
previous one valid; the algorithm list is fixed, never taken from the token.
"""
import time
import uuid

import jwt
from flask import current_app

from backend.common.crypto import derive_key, key_id
from backend.common.errors import Unauthorized

ALGORITHMS = ["HS256"]
ISSUER = "piaojia"
AUDIENCE_CITIZEN = "piaojia:citizen"
AUDIENCE_CLIENT = "piaojia:client"


def _signing_keys():
    keys = current_app.extensions.get("piaojia_token_keys")
    if keys is None:
        secrets = [current_app.config["SECRET_KEY"], *current_app.config.get("OLD_SECRET_KEYS", [])]
        derived = [derive_key(s, "piaojia access token v1") for s in secrets]
        keys = {"current": key_id(derived[0]), "by_kid": {key_id(k): k for k in derived}}
        current_app.extensions["piaojia_token_keys"] = keys
    return keys


def issue(subject: str, audience: str, ttl: int, **claims) -> str:
    keys = _signing_keys()
    now = int(time.time())
    payload = {"iss": ISSUER, "sub": subject, "aud": audience, "iat": now, "exp": now + ttl, "jti": uuid.uuid4().hex}
    payload.update(claims)
    kid = keys["current"]
    return jwt.encode(payload, keys["by_kid"][kid], algorithm="HS256", headers={"kid": kid})


def verify(token: str, audience: str) -> dict:
    keys = _signing_keys()
    try:
        header = jwt.get_unverified_header(token)
        key = keys["by_kid"].get(header.get("kid"))
        if key is None:
            raise Unauthorized("Unknown token key id.", code="invalid_token")
        return jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            audience=audience,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The access token has expired.", code="token_expired", title="登录已过期，请重新登录")
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"Invalid access token: {exc}", code="invalid_token")
