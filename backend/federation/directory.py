"""The directory of nodes and their keys.

On the hub it is the `federation_nodes` table, filled by `flask --app wsgi federation
add-node PROVINCE URL` (which fetches URL/api/v1/federation/jwks.json) and refreshed by
`federation refresh-node`: a key the node no longer publishes is retired after
FEDERATION_KEY_OVERLAP_SECONDS; `federation retire-key` retires one at once. On a node it is
the hub's `GET /api/v1/federation/directory`, cached for a minute and fetched again at once
when a message names a key not in the cache.
"""
import json
import time
from datetime import timedelta

import jwt
import requests
from flask import current_app
from sqlalchemy import select

from backend.common.errors import Conflict, NotFound, ValidationFailed
from backend.common.models import as_utc, utcnow
from backend.extensions import db
from backend.federation import keys
from backend.federation.models import FederationNode

CACHE_SECONDS = 60


def _valid(entry: dict, now) -> bool:
    retired = entry.get("retired_at")
    return retired is None or as_utc_iso(retired) > now


def as_utc_iso(value: str):
    from datetime import datetime

    return as_utc(datetime.fromisoformat(value))


def _fetch_jwks(url: str) -> list[dict]:
    try:
        resp = requests.get(url.rstrip("/") + "/api/v1/federation/jwks.json", timeout=current_app.config["FEDERATION_TIMEOUT_SECONDS"])
        resp.raise_for_status()
        found = resp.json()["keys"]
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        raise ValidationFailed(f"Could not fetch the node's JWKS: {type(exc).__name__}.", code="jwks_unavailable")
    good = [k for k in found if isinstance(k, dict) and k.get("kty") == "EC" and k.get("crv") == "P-256" and k.get("kid")]
    if not good:
        raise ValidationFailed("The node publishes no ES256 (P-256) key.", code="jwks_unusable")
    return good


# --- hub ------------------------------------------------------------------------------

def view(node: FederationNode) -> dict:
    now = utcnow()
    return {"province": node.province, "url": node.url, "status": node.status,
            "keys": [{"kid": k["kid"], "jwk": k["jwk"], "added_at": k["added_at"], "retired_at": k.get("retired_at"),
                      "valid": _valid(k, now)} for k in node.keys or []],
            "added_at": as_utc(node.added_at).isoformat(), "updated_at": as_utc(node.updated_at).isoformat()}


def add_node(province: str, url: str) -> dict:
    if not (isinstance(province, str) and len(province) == 2 and province.isdigit()):
        raise ValidationFailed("A province is two digits.", code="invalid_province")
    if db.session.get(FederationNode, province) is not None:
        raise Conflict(f"Province {province} is already in the directory; use refresh-node.", code="node_exists")
    now = utcnow().isoformat()
    node = FederationNode(province=province, url=url.rstrip("/"), status="active",
                          keys=[{"kid": k["kid"], "jwk": k, "added_at": now, "retired_at": None} for k in _fetch_jwks(url)])
    db.session.add(node)
    db.session.commit()
    return view(node)


def refresh_node(province: str) -> dict:
    """New keys the node publishes are added; keys it stopped publishing are retired after
    the overlap (messages signed just before its switch still verify meanwhile)."""
    node = _node(province)
    published = {k["kid"]: k for k in _fetch_jwks(node.url)}
    now = utcnow()
    overlap = timedelta(seconds=current_app.config["FEDERATION_KEY_OVERLAP_SECONDS"])
    entries = []
    for entry in node.keys or []:
        entry = dict(entry)
        if entry["kid"] not in published and entry.get("retired_at") is None:
            entry["retired_at"] = (now + overlap).isoformat()
        entries.append(entry)
    known = {e["kid"] for e in entries}
    entries += [{"kid": kid, "jwk": jwk, "added_at": now.isoformat(), "retired_at": None} for kid, jwk in published.items() if kid not in known]
    node.keys, node.updated_at = entries, now
    db.session.commit()
    return view(node)


def retire_key(province: str, kid: str) -> dict:
    node = _node(province)
    if kid not in {k["kid"] for k in node.keys or []}:
        raise NotFound(f"No key {kid} for {province}.", code="key_not_found")
    node.keys = [{**k, "retired_at": utcnow().isoformat()} if k["kid"] == kid else k for k in node.keys]
    node.updated_at = utcnow()
    db.session.commit()
    return view(node)


def _node(province: str) -> FederationNode:
    node = db.session.get(FederationNode, province)
    if node is None:
        raise NotFound(f"Province {province} is not in the directory.", code="node_not_found", title="目录中没有该省节点")
    return node


def node_url(province: str) -> str | None:
    node = db.session.get(FederationNode, province)
    return node.url if node is not None and node.status == "active" else None


def listing() -> dict:
    """The directory as published by the hub: every node and the hub's own keys."""
    nodes = db.session.scalars(select(FederationNode).order_by(FederationNode.province)).all()
    now = utcnow()
    hub_keys = [{"kid": k["kid"], "jwk": k, "valid": True} for k in keys.jwks()["keys"]]
    return {"hub": {"keys": hub_keys},
            "nodes": [{"province": n.province, "url": n.url, "status": n.status,
                       "keys": [{"kid": k["kid"], "jwk": k["jwk"], "valid": _valid(k, now)} for k in n.keys or []]}
                      for n in nodes]}


def hub_key_lookup(province: str, kid: str):
    """The hub verifying a sender: a valid key of that province's node, or its own."""
    if province == "hub":
        return _jwk_key(next((k for k in keys.jwks()["keys"] if k["kid"] == kid), None))
    node = db.session.get(FederationNode, province)
    if node is None or node.status != "active":
        return None
    now = utcnow()
    return _jwk_key(next((k["jwk"] for k in node.keys or [] if k["kid"] == kid and _valid(k, now)), None))


def _jwk_key(jwk: dict | None):
    if jwk is None:
        return None
    return jwt.algorithms.ECAlgorithm.from_jwk(json.dumps(jwk))


# --- node -----------------------------------------------------------------------------

def _hub_directory(force=False) -> dict:
    cache = current_app.extensions.setdefault("piaojia_federation_directory", {"at": 0.0, "data": None})
    if force or cache["data"] is None or time.monotonic() - cache["at"] > CACHE_SECONDS:
        resp = requests.get(current_app.config["HUB_URL"].rstrip("/") + "/api/v1/federation/directory",
                            timeout=current_app.config["FEDERATION_TIMEOUT_SECONDS"])
        resp.raise_for_status()
        cache.update(at=time.monotonic(), data=resp.json())
    return cache["data"]


def node_key_lookup(province: str, kid: str):
    """A node verifying a sender (the hub, or another node) against the hub's directory."""
    for force in (False, True):
        try:
            data = _hub_directory(force)
        except requests.RequestException:
            return None
        entries = data["hub"]["keys"] if province == "hub" else next(
            (n["keys"] for n in data["nodes"] if n["province"] == province and n["status"] == "active"), [])
        found = next((k["jwk"] for k in entries if k["kid"] == kid and k.get("valid", True)), None)
        if found is not None:
            return _jwk_key(found)
    return None
