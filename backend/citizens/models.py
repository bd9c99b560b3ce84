from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.models import TZDateTime, new_uuid, utcnow
from backend.extensions import db


class Citizen(db.Model):
    """A personal digital account (个人数字账户), opened at first 海易办 login."""

    __tablename__ = "citizens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    sub: Mapped[str] = mapped_column(String(128), unique=True)  # the 海易办 user id
    name: Mapped[str] = mapped_column(String(100))
    id_type: Mapped[str] = mapped_column(String(32))
    id_hash: Mapped[str] = mapped_column(String(64), index=True)
    id_enc: Mapped[bytes] = mapped_column(LargeBinary)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at = mapped_column(TZDateTime(), default=utcnow)
    last_login_at = mapped_column(TZDateTime(), default=utcnow)


class RefreshToken(db.Model):
    """Rotating refresh tokens; reusing a spent one revokes its whole family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id"), index=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at = mapped_column(TZDateTime(), default=utcnow)
    expires_at = mapped_column(TZDateTime())
    used_at = mapped_column(TZDateTime(), nullable=True)
    revoked_at = mapped_column(TZDateTime(), nullable=True)
    # None: a sign-in of the citizen; "chat": a chat binding's delegated session (family = binding id).
    scope: Mapped[str | None] = mapped_column(String(16), nullable=True)


class UsedAssertion(db.Model):
    """Identity assertions already signed in with (by a hash of iss and jti), remembered
    until they expire: an assertion signs in once."""

    __tablename__ = "used_assertions"

    jti_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at = mapped_column(TZDateTime(), index=True)


class StreamTicket(db.Model):
    """A short-lived, single-use ticket that opens the live stream for browsers that cannot
    send an Authorization header with EventSource (never the access token in a URL)."""

    __tablename__ = "stream_tickets"

    ticket_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id"), index=True)
    session_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    expires_at = mapped_column(TZDateTime(), index=True)
    used_at = mapped_column(TZDateTime(), nullable=True)
