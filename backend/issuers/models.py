from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text

from backend.common import row_cache
from backend.common.models import TZDateTime, new_uuid, utcnow
from backend.extensions import db


@row_cache.cached_model
class Issuer(db.Model):
    """An issuing unit (开票单位), e.g. a hospital, registered by a fiscal operator."""

    __tablename__ = "issuers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    province: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | disabled
    created_at = mapped_column(TZDateTime(), default=utcnow)

    secrets = relationship("IssuerWebhookSecret", back_populates="issuer", order_by="IssuerWebhookSecret.created_at.desc()")
    keys = relationship("IssuerKey", back_populates="issuer", order_by="IssuerKey.created_at.desc()")

    @property
    def current_key(self) -> "IssuerKey | None":
        """The key registered last: the one the issuer should be signing with now."""
        return self.keys[0] if self.keys else None

    @property
    def alg(self) -> str | None:
        return self.current_key.alg if self.current_key else None

    @property
    def active(self) -> bool:
        return self.status == "active"


@row_cache.part_of("issuers", "issuer_id")
class IssuerWebhookSecret(db.Model):
    """A `whsec_` secret; several may be valid at once while an issuer rotates."""

    __tablename__ = "issuer_webhook_secrets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    issuer_id: Mapped[str] = mapped_column(ForeignKey("issuers.id"), index=True)
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at = mapped_column(TZDateTime(), default=utcnow)
    expires_at = mapped_column(TZDateTime(), nullable=True)

    issuer = relationship("Issuer", back_populates="secrets")


@row_cache.part_of("issuers", "issuer_id")
class IssuerKey(db.Model):
    """A public key that verifies the issuer's seal on its receipts (DESIGN §2). Several
    may be valid at once while an issuer rolls a new key out; `expires_at` ends one."""

    __tablename__ = "issuer_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)  # the key id shown to operators
    issuer_id: Mapped[str] = mapped_column(ForeignKey("issuers.id"), index=True)
    public_key_pem: Mapped[str] = mapped_column(Text)
    alg: Mapped[str] = mapped_column(String(16))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the DER SubjectPublicKeyInfo
    created_at = mapped_column(TZDateTime(), default=utcnow)
    expires_at = mapped_column(TZDateTime(), nullable=True)

    issuer = relationship("Issuer", back_populates="keys")


@row_cache.drops("series_for_receipt")
class IssuerCodeSeries(db.Model):
    """A receipt code series the fiscal department allocated to an issuer: numbers
    `number_from`..`number_to` (inclusive, 10 digits) of receipt code `code`. Once an issuer
    has series, its receipts must fall in one; no issuer may use another's series."""

    __tablename__ = "issuer_code_series"
    __table_args__ = (Index("ix_issuer_code_series_code", "code", "number_from"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    issuer_id: Mapped[str] = mapped_column(ForeignKey("issuers.id"), index=True)
    code: Mapped[str] = mapped_column(String(8))
    number_from: Mapped[str] = mapped_column(String(10))
    number_to: Mapped[str] = mapped_column(String(10))
    created_at = mapped_column(TZDateTime(), default=utcnow)
