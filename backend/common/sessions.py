"""Revoked citizen sessions, so that signing out ends access tokens at once.

An access token carries `sid`, the id of its sign-in (the refresh-token family). Revoking
a family writes `sid` to Redis for as long as an access token can live; every citizen
request checks it there, and in the database when Redis is not configured or not
answering.
"""
import logging

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import select

from backend.common.redis_client import get_redis
from backend.extensions import db

log = logging.getLogger(__name__)
PREFIX = "piaojia:revoked-session:"


def announce_revoked(session_id: str) -> None:
    redis = get_redis()
    if redis is None:
        return
    try:
        redis.set(PREFIX + session_id, "1", ex=int(current_app.config["ACCESS_TOKEN_TTL_SECONDS"]) + 60)
    except RedisError:
        log.warning("could not record a revoked session in Redis; the database still has it")


def is_revoked(session_id: str) -> bool:
    redis = get_redis()
    if redis is not None:
        try:
            return bool(redis.exists(PREFIX + session_id))
        except RedisError:
            log.warning("Redis unavailable for the session check; asking the database")
    from backend.citizens.models import RefreshToken

    return db.session.scalar(select(RefreshToken.id).where(RefreshToken.family_id == session_id,
                                                           RefreshToken.revoked_at.is_not(None)).limit(1)) is not None
