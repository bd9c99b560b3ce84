"""Federation state: the hub's directory and payer index, every node's message log."""
from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.models import JSONType, TZDateTime, utcnow
from backend.extensions import db


class FederationNode(db.Model):
    """Hub: a province's node, its URL and the keys it publishes (with their validity)."""

    __tablename__ = "federation_nodes"

    province: Mapped[str] = mapped_column(String(2), primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    keys = mapped_column(JSONType)  # [{"jwk": {...}, "kid": "...", "added_at": iso, "retired_at": iso | null}]
    status: Mapped[str] = mapped_column(String(16), default="active")
    added_at = mapped_column(TZDateTime(), default=utcnow)
    updated_at = mapped_column(TZDateTime(), default=utcnow)


class PayerIndexEntry(db.Model):
    """Hub: where a payer (by federated hash only) has receipts issued, or an account."""

    __tablename__ = "federation_payer_index"
    __table_args__ = (UniqueConstraint("payer_fhash", "province", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    payer_fhash: Mapped[str] = mapped_column(String(64), index=True)
    province: Mapped[str] = mapped_column(String(2))
    role: Mapped[str] = mapped_column(String(8))  # issuer | account
    created_at = mapped_column(TZDateTime(), default=utcnow)


class PayerSubscription(db.Model):
    """Hub: each `payer.subscribe` it accepted — which node subscribed for which payer hash,
    on the strength of which sign-in — so an operator can audit who asked for whose
    receipts. The signed message itself is kept as the node's statement."""

    __tablename__ = "federation_payer_subscriptions"
    __table_args__ = (Index("ix_federation_payer_subscriptions_province", "province", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    province: Mapped[str] = mapped_column(String(2))
    payer_fhash: Mapped[str] = mapped_column(String(64), index=True)
    signed_in_at = mapped_column(TZDateTime())
    account_ref: Mapped[str] = mapped_column(String(64))
    jti: Mapped[str] = mapped_column(String(64))
    statement: Mapped[str] = mapped_column(Text)
    received_at = mapped_column(TZDateTime(), default=utcnow)


class FederationMessage(db.Model):
    """Every node and the hub: each message received, by `jti`, with the answer given —
    a redelivered message gets the same answer, a replayed id with other content is refused."""

    __tablename__ = "federation_messages"
    __table_args__ = (Index("ix_federation_messages_received", "received_at"),)

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    sender: Mapped[str] = mapped_column(String(8))
    type: Mapped[str] = mapped_column(String(40))
    token_hash: Mapped[str] = mapped_column(String(64))
    received_at = mapped_column(TZDateTime(), default=utcnow)
    answer = mapped_column(JSONType, nullable=True)  # {"status": int, "body": {...}}
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class PendingCancellation(db.Model):
    """A lock on another province's receipt to be undone there, retried by the sweeper until
    the issuing node has answered. `kind`:
    - `lock_timeout`: a lock request whose answer never arrived (`jti` is that request's):
      the issuing node may have granted it, so `unit.cancel` is sent until it says what it
      did, or until the request has expired there (it can no longer be accepted);
    - `unit_cancelled`: the unit holding the lock was cancelled here: `unit.release`."""

    __tablename__ = "federation_pending_cancellations"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="lock_timeout", server_default="lock_timeout")
    receipt_key: Mapped[str] = mapped_column(String(19))
    unit_id: Mapped[str] = mapped_column(String(36))
    not_after = mapped_column(TZDateTime())
    created_at = mapped_column(TZDateTime(), default=utcnow)
    done_at = mapped_column(TZDateTime(), nullable=True)
    result: Mapped[str | None] = mapped_column(String(32), nullable=True)
