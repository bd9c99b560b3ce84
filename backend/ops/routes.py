"""Liveness and readiness probes."""
from flask import Blueprint, jsonify
from sqlalchemy import text

from backend.common.redis_client import get_redis
from backend.extensions import db

blp = Blueprint("ops", __name__)


@blp.get("/healthz")
def healthz():
    """The process is up and serving requests."""
    return jsonify(status="ok")


@blp.get("/readyz")
def readyz():
    """The database and, when configured, Redis are reachable."""
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        db.session.rollback()
        checks["database"] = f"error: {type(exc).__name__}"
    redis = get_redis()
    if redis is not None:
        try:
            redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return jsonify(status="ready" if ready else "not_ready", checks=checks), (200 if ready else 503)
