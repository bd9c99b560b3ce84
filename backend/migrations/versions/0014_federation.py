"""federation: directory, payer index, message log; synced receipt copies

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-24 08:10:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade():
    op.create_table('federation_nodes',
    sa.Column('province', sa.String(length=2), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('keys', JSON, nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('province', name=op.f('pk_federation_nodes'))
    )
    op.create_table('federation_payer_index',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('payer_fhash', sa.String(length=64), nullable=False),
    sa.Column('province', sa.String(length=2), nullable=False),
    sa.Column('role', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_federation_payer_index')),
    sa.UniqueConstraint('payer_fhash', 'province', 'role', name=op.f('uq_federation_payer_index_payer_fhash_province_role'))
    )
    with op.batch_alter_table('federation_payer_index', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_federation_payer_index_payer_fhash'), ['payer_fhash'], unique=False)
    op.create_table('federation_messages',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('sender', sa.String(length=8), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answer', JSON, nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_federation_messages'))
    )
    with op.batch_alter_table('federation_messages', schema=None) as batch_op:
        batch_op.create_index('ix_federation_messages_received', ['received_at'], unique=False)
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hub_pending', sa.Boolean(), nullable=True))
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payer_fhash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('synced_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sync_state', JSON, nullable=True))
        batch_op.create_index(batch_op.f('ix_receipts_payer_fhash'), ['payer_fhash'], unique=False)


def downgrade():
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.drop_column('hub_pending')
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_receipts_payer_fhash'))
        batch_op.drop_column('sync_state')
        batch_op.drop_column('synced_at')
        batch_op.drop_column('payer_fhash')
    with op.batch_alter_table('federation_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_federation_messages_received')
    op.drop_table('federation_messages')
    with op.batch_alter_table('federation_payer_index', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_federation_payer_index_payer_fhash'))
    op.drop_table('federation_payer_index')
    op.drop_table('federation_nodes')
