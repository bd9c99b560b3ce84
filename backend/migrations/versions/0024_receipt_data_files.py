"""receipt data files: the issuer's national data file as received, and the complete one

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 07:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('receipt_data_files',
    sa.Column('receipt_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('original', sa.LargeBinary(), nullable=True),
    sa.Column('original_sha256', sa.String(length=64), nullable=True),
    sa.Column('complete', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['receipt_id'], ['receipts.id'], name=op.f('fk_receipt_data_files_receipt_id_receipts')),
    sa.PrimaryKeyConstraint('receipt_id', name=op.f('pk_receipt_data_files'))
    )


def downgrade():
    op.drop_table('receipt_data_files')
