from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.models import TZDateTime, new_uuid, utcnow
from backend.common import row_cache
from backend.extensions import db

ROLES = ("operator", "unit", "issuer", "bot")


@row_cache.cached_model
class ApiClient(db.Model):
    """OAuth 2.0 client-credentials client: a fiscal operator, a unit or an issuer system.

    The secret is random (256 bits), so a SHA-256 digest is a sufficient at-rest form.
    """

    __tablename__ = "api_clients"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    # The unit or issuer this client acts for (null for operators).
    subject_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at = mapped_column(TZDateTime(), default=utcnow)
    rotated_at = mapped_column(TZDateTime(), nullable=True)
