"""The optional Redis connection (production path). None in the embedded default.

Several nodes may share one Redis server (or one database of it): everything a node keeps
there — its queues and job ids, its pub/sub channels, its rate-limit counters — is named
under the node's namespace (`node_namespace`), so no node takes another's jobs or hears
another's events.
"""
from flask import current_app
from redis import Redis


def node_namespace(config=None) -> str:
    """`hub` on the hub, the province code (`46`, `44`, …) on a provincial node."""
    cfg = current_app.config if config is None else config
    return "hub" if cfg.get("NODE_ROLE") == "hub" else str(cfg.get("NODE_PROVINCE") or "46")


def init_app(app):
    url = app.config.get("REDIS_URL")
    app.extensions["piaojia_redis"] = Redis.from_url(url) if url else None


def get_redis():
    return current_app.extensions.get("piaojia_redis")
