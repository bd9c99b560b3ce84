"""receipt checks: every check (查验) that identified a receipt, for its 查验次数

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 06:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('receipt_checks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('receipt_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('unit_id', sa.String(length=36), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("channel IN ('elements', 'layout', 'qr_page', 'unit', 'data_file')",
                       name=op.f('ck_receipt_checks_channel_known')),
    sa.ForeignKeyConstraint(['receipt_id'], ['receipts.id'], name=op.f('fk_receipt_checks_receipt_id_receipts')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_receipt_checks_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_receipt_checks'))
    )
    with op.batch_alter_table('receipt_checks', schema=None) as batch_op:
        batch_op.create_index('ix_receipt_checks_receipt', ['receipt_id', 'checked_at'], unique=False)


def downgrade():
    with op.batch_alter_table('receipt_checks', schema=None) as batch_op:
        batch_op.drop_index('ix_receipt_checks_receipt')
    op.drop_table('receipt_checks')
