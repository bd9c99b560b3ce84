"""federation: pending cancellations of lock requests whose answer timed out

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-24 08:25:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('federation_pending_cancellations',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('receipt_key', sa.String(length=19), nullable=False),
    sa.Column('unit_id', sa.String(length=36), nullable=False),
    sa.Column('not_after', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_federation_pending_cancellations'))
    )


def downgrade():
    op.drop_table('federation_pending_cancellations')
