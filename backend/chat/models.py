from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.models import TZDateTime, new_uuid, utcnow
from backend.extensions import db


class ChatBindingCode(db.Model):
    """A one-time binding code (a keyed hash of it): 5 minutes, single use."""

    __tablename__ = "chat_binding_codes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id"), index=True)
    created_at = mapped_column(TZDateTime(), default=utcnow)
    expires_at = mapped_column(TZDateTime())
    used_at = mapped_column(TZDateTime(), nullable=True)
