from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.models import BigIntPK, TZDateTime, new_uuid, utcnow
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


class ChatBinding(db.Model):
    """A citizen's chat account (e.g. a WeChat/海易办 bot user) that receives pushes, with its
    one-time-subscription quota: each accepted push spends one message. Only the bot client
    that made it (`bot_client_id`) may change it; null for bindings made before that was
    recorded when there was not exactly one bot client to attribute them to."""

    __tablename__ = "chat_bindings"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id"), index=True)
    payer_hash: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    quota_remaining: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at = mapped_column(TZDateTime(), default=utcnow)
    bot_client_id: Mapped[str | None] = mapped_column(ForeignKey("api_clients.id"), nullable=True, index=True)


class ChatPush(db.Model):
    """One event pushed (or not, for lack of quota) to one chat binding; unique, so a job
    run twice pushes once."""

    __tablename__ = "chat_pushes"
    __table_args__ = (UniqueConstraint("event_id", "binding_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36))
    binding_id: Mapped[str] = mapped_column(ForeignKey("chat_bindings.id"))
    status: Mapped[str] = mapped_column(String(16))  # sent | no_quota | failed
    created_at = mapped_column(TZDateTime(), default=utcnow)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
