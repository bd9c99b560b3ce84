"""Every blueprint of the application, in one list.

BLUEPRINTS are flask-smorest blueprints (documented in the OpenAPI spec);
PLAIN_BLUEPRINTS are ordinary Flask ones (health checks, static mini-app).
"""
from backend.admin.routes import blp as admin_blp
from backend.clients.routes import blp as oauth_blp
from backend.notifications.routes import blp as notifications_blp
from backend.notifications.routes import unit_blp as unit_webhook_blp
from backend.ops.routes import blp as ops_blp
from backend.receipts.routes import blp as receipts_blp
from backend.units.routes import blp as unit_blp

BLUEPRINTS = [oauth_blp, admin_blp, receipts_blp, unit_blp, notifications_blp, unit_webhook_blp]
PLAIN_BLUEPRINTS = [ops_blp]
