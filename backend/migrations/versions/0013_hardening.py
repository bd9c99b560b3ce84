"""hardening: single-use identity assertions, stream tickets, proof-of-possession lockouts

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24 07:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('used_assertions',
    sa.Column('jti_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('jti_hash', name=op.f('pk_used_assertions'))
    )
    with op.batch_alter_table('used_assertions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_assertions_expires_at'), ['expires_at'], unique=False)
    op.create_table('stream_tickets',
    sa.Column('ticket_hash', sa.String(length=64), nullable=False),
    sa.Column('citizen_id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], name=op.f('fk_stream_tickets_citizen_id_citizens')),
    sa.PrimaryKeyConstraint('ticket_hash', name=op.f('pk_stream_tickets'))
    )
    with op.batch_alter_table('stream_tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stream_tickets_citizen_id'), ['citizen_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stream_tickets_expires_at'), ['expires_at'], unique=False)
    op.create_table('proof_lockouts',
    sa.Column('receipt_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('receipt_id', name=op.f('pk_proof_lockouts'))
    )


def downgrade():
    op.drop_table('proof_lockouts')
    with op.batch_alter_table('stream_tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stream_tickets_expires_at'))
        batch_op.drop_index(batch_op.f('ix_stream_tickets_citizen_id'))
    op.drop_table('stream_tickets')
    with op.batch_alter_table('used_assertions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_assertions_expires_at'))
    op.drop_table('used_assertions')
