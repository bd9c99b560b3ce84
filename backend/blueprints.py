"""Every blueprint of the application, in one list.

BLUEPRINTS are flask-smorest blueprints (documented in the OpenAPI spec);
PLAIN_BLUEPRINTS are ordinary Flask ones (health checks, static mini-app).
"""
from backend.admin.routes import blp as admin_blp
from backend.authorizations.routes import landing_blp as qr_landing_blp
from backend.authorizations.routes import me_blp as citizen_authorizations_blp
from backend.authorizations.routes import unit_blp as unit_authorizations_blp
from backend.citizens.routes import auth_blp as citizen_auth_blp
from backend.citizens.routes import me_blp as citizen_me_blp
from backend.chat.routes import bot_blp as chat_bot_blp
from backend.chat.routes import me_blp as chat_codes_blp
from backend.clients.routes import blp as oauth_blp
from backend.federation.routes import admin_blp as federation_admin_blp
from backend.federation.routes import blp as federation_blp
from backend.notifications.routes import blp as notifications_blp
from backend.notifications.routes import unit_blp as unit_webhook_blp
from backend.ops.metrics import blp as metrics_blp
from backend.ops.routes import blp as ops_blp
from backend.receipts.routes import blp as receipts_blp
from backend.units.routes import blp as unit_blp
from backend.verification.routes import blp as verify_blp
from backend.verification.routes import page_blp as verify_page_blp
from backend.web.routes import blp as web_blp

BLUEPRINTS = [
    oauth_blp, admin_blp, receipts_blp, citizen_auth_blp, citizen_me_blp, notifications_blp, verify_blp,
    citizen_authorizations_blp, unit_blp, unit_authorizations_blp, unit_webhook_blp, federation_blp, federation_admin_blp,
    chat_codes_blp, chat_bot_blp,
]


def demo_blueprints(app):
    """Registered only while the demo identity provider is active (never in production)."""
    from backend.citizens.identity import demo_identity_provider_active
    from backend.demo.routes import blp as demo_blp

    return [demo_blp] if demo_identity_provider_active(app) else []
PLAIN_BLUEPRINTS = [ops_blp, metrics_blp, qr_landing_blp, verify_page_blp, web_blp]
