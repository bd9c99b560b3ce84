"""federation trust: subscriptions audited at the hub, remote locks on synced copies,
versions that count timeline entries, releases for cancelled units

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 06:00:00

"""
import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('federation_payer_subscriptions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('province', sa.String(length=2), nullable=False),
    sa.Column('payer_fhash', sa.String(length=64), nullable=False),
    sa.Column('signed_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('account_ref', sa.String(length=64), nullable=False),
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_federation_payer_subscriptions'))
    )
    with op.batch_alter_table('federation_payer_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_federation_payer_subscriptions_payer_fhash'), ['payer_fhash'], unique=False)
        batch_op.create_index('ix_federation_payer_subscriptions_province', ['province', 'id'], unique=False)
    with op.batch_alter_table('federation_pending_cancellations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='lock_timeout', nullable=False))
    _synced_copies_to_the_new_rules()


def _synced_copies_to_the_new_rules():
    """A synced copy's lock is remote (no Lock row here: lock_id NULL), and its version is
    the number of timeline entries it carries (it was the issuing node's last entry id)."""
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, sync_state FROM receipts WHERE synced_at IS NOT NULL")).all()
    for receipt_id, state in rows:
        state = json.loads(state) if isinstance(state, str) else dict(state or {})
        state["version"] = len(state.get("timeline") or [])
        conn.execute(sa.text("UPDATE receipts SET lock_id = NULL, sync_state = :state WHERE id = :id")
                     .bindparams(sa.bindparam("state", type_=sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'))),
                     {"state": state, "id": receipt_id})


def downgrade():
    with op.batch_alter_table('federation_pending_cancellations', schema=None) as batch_op:
        batch_op.drop_column('kind')
    with op.batch_alter_table('federation_payer_subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_federation_payer_subscriptions_province')
        batch_op.drop_index(batch_op.f('ix_federation_payer_subscriptions_payer_fhash'))
    op.drop_table('federation_payer_subscriptions')
