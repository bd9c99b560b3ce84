"""bookings: a unit's accounting entry for a receipt, at most one per receipt

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-24 08:35:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('bookings',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('receipt_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('unit_id', sa.String(length=36), nullable=False),
    sa.Column('voucher_no', sa.String(length=64), nullable=False),
    sa.Column('booked_on', sa.Date(), nullable=True),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['receipt_id'], ['receipts.id'], name=op.f('fk_bookings_receipt_id_receipts')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_bookings_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bookings')),
    sa.UniqueConstraint('receipt_id', name=op.f('uq_bookings_receipt_id'))
    )
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bookings_unit_id'), ['unit_id'], unique=False)


def downgrade():
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bookings_unit_id'))
    op.drop_table('bookings')
