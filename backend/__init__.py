"""Piaojia 票夹: fiscal e-receipts and their cross-province reimbursement."""
import os

from flask import Flask


class PiaojiaFlask(Flask):
    from backend.common.json_provider import PiaojiaJSONProvider as json_provider_class


def create_app(config=None):
    """Application factory. `config`: a mapping of overrides (tests) or None (environment)."""
    from backend.config import config_class

    app = PiaojiaFlask(__name__, instance_path=os.environ.get("PIAOJIA_INSTANCE_PATH") or None, instance_relative_config=True)
    app.config.from_object(config_class())
    if config:
        if isinstance(config, type):
            app.config.from_object(config)
        else:
            app.config.update(config)

    from backend.common import instance_secrets

    if app.config.get("ENV_NAME") == "production":
        missing = [name for name in app.config.get("REQUIRED", ()) if not app.config.get(name)]
        if app.config.get("PLATFORM_SIGNATURE_ALG") == "SM2" and not app.config.get("PLATFORM_SM2_SIGNING_KEY"):
            missing.append("PLATFORM_SM2_SIGNING_KEY")
        if app.config.get("HUB_URL") or app.config.get("NODE_ROLE") == "hub":
            missing += [name for name in ("FEDERATION_SIGNING_KEY", "FEDERATION_PAYER_KEY") if not app.config.get(name)]
        if missing:
            raise RuntimeError(f"Production configuration is missing: {', '.join(missing)}")
    instance_secrets.fill_missing(app)
    hops = int(app.config.get("PROXY_FIX_HOPS") or 0)
    if hops:  # behind a reverse proxy: client address (rate limits) and scheme from X-Forwarded-*
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    _init_extensions(app)
    _register_blueprints(app)
    _register_cli(app)
    return app


def _init_extensions(app):
    from backend.common import crypto, logging as piaojia_logging, redis_client
    from backend.common.errors import register_error_handlers
    from backend.extensions import api, db, limiter, migrate

    piaojia_logging.configure(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "migrations"))
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", f"piaojia:{redis_client.node_namespace(app.config)}")
    limiter.init_app(app)
    redis_client.init_app(app)
    crypto.init_app(app)
    api.init_app(app, spec_kwargs={"components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}}})
    register_error_handlers(app)
    from backend.common import security_headers

    security_headers.init_app(app)
    from backend.events import dispatch
    from backend.sweeper import sweep

    dispatch.init_app(app, sweep)
    from backend.ops import metrics

    metrics.init_app(app)
    # Models must be imported so Alembic and the ORM see every table.
    from backend import models  # noqa: F401


def _register_blueprints(app):
    from backend.extensions import api
    from backend.blueprints import BLUEPRINTS, PLAIN_BLUEPRINTS, demo_blueprints

    for blp in [*BLUEPRINTS, *demo_blueprints(app)]:
        api.register_blueprint(blp)
    for blp in PLAIN_BLUEPRINTS:
        app.register_blueprint(blp)
    from backend.receipts.routes import register_schemas

    register_schemas(api)


def _register_cli(app):
    from backend.cli import register

    register(app)
