"""bookings per reimbursement: each ledger entry booked at most once, several units per receipt

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 07:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ledger_entry_id', sa.BigInteger(), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_bookings_receipt_id'), type_='unique')
        batch_op.create_index(batch_op.f('ix_bookings_receipt_id'), ['receipt_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_bookings_ledger_entry_id'), ['ledger_entry_id'])
        batch_op.create_foreign_key(batch_op.f('fk_bookings_ledger_entry_id_ledger_entries'), 'ledger_entries', ['ledger_entry_id'], ['id'])
    # The one booking a receipt had is the booking unit's first reimbursement of it.
    op.execute("UPDATE bookings SET ledger_entry_id = (SELECT min(e.id) FROM ledger_entries e WHERE e.receipt_id = bookings.receipt_id "
               "AND e.unit_id = bookings.unit_id AND e.outcome = 'reimbursed')")


def downgrade():
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_bookings_ledger_entry_id_ledger_entries'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_bookings_ledger_entry_id'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_bookings_receipt_id'))
        batch_op.create_unique_constraint(batch_op.f('uq_bookings_receipt_id'), ['receipt_id'])
        batch_op.drop_column('ledger_entry_id')
