"""Imports every domain's models so the metadata is complete (Alembic, tests)."""
from backend.citizens.models import Citizen, RefreshToken  # noqa: F401
from backend.clients.models import ApiClient  # noqa: F401
from backend.issuers.models import Issuer, IssuerWebhookSecret  # noqa: F401
from backend.receipts.models import InboundWebhook, Receipt, TimelineEntry  # noqa: F401
from backend.units.models import Unit  # noqa: F401
from backend.authorizations.models import Authorization, AuthorizationRequest, AuthorizedReceipt  # noqa: F401
from backend.reimbursements.models import Booking, IdempotencyRecord, LedgerEntry, Lock, ReceiptAccess  # noqa: F401
from backend.chat.models import ChatBinding, ChatBindingCode, ChatPush  # noqa: F401
from backend.notifications.models import Notification, UnitWebhookDelivery  # noqa: F401
from backend.events.models import OutboxEvent  # noqa: F401
from backend.federation.models import FederationMessage, FederationNode, PayerIndexEntry, PendingCancellation  # noqa: F401
from backend.verification.models import ReceiptCheck  # noqa: F401
