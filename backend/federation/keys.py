"""This node's federation signing key (ES256) and the JWKS it publishes.

`FEDERATION_SIGNING_KEY` is the current key; `FEDERATION_PREVIOUS_SIGNING_KEYS` (PEMs or
paths, comma-separated) are still published during a rotation's overlap, so messages
signed before the switch still verify until the hub's directory drops them.
"""

import jwt
from cryptography.hazmat.primitives import serialization
from flask import current_app

from backend.common.crypto import pem_bytes
from backend.receipts.signing import jwk_thumbprint


def _load():
    cache = current_app.extensions.get("piaojia_federation_keys")
    if cache is None:
        current = serialization.load_pem_private_key(pem_bytes(current_app.config["FEDERATION_SIGNING_KEY"]), None)
        previous = [serialization.load_pem_private_key(pem_bytes(p), None)
                    for p in (current_app.config.get("FEDERATION_PREVIOUS_SIGNING_KEYS") or "").split(",") if p.strip()]
        cache = {"current": current, "published": [_jwk(k.public_key()) for k in [current, *previous]]}
        current_app.extensions["piaojia_federation_keys"] = cache
    return cache


def _jwk(public_key) -> dict:
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(public_key, as_dict=True)
    return {**jwk, "kid": jwk_thumbprint(jwk), "alg": "ES256", "use": "sig"}


def signing_key():
    return _load()["current"]


def current_kid() -> str:
    return _load()["published"][0]["kid"]


def jwks() -> dict:
    return {"keys": list(_load()["published"])}
