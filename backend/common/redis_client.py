"""The optional Redis connection (production path). None in the embedded default."""
from flask import current_app
from redis import Redis


def init_app(app):
    url = app.config.get("REDIS_URL")
    app.extensions["piaojia_redis"] = Redis.from_url(url) if url else None


def get_redis():
    return current_app.extensions.get("piaojia_redis")
