"""issuer code series: receipt code ranges allocated by the fiscal department

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22 22:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('issuer_code_series',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('issuer_id', sa.String(length=36), nullable=False),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('number_from', sa.String(length=10), nullable=False),
    sa.Column('number_to', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['issuer_id'], ['issuers.id'], name=op.f('fk_issuer_code_series_issuer_id_issuers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issuer_code_series'))
    )
    with op.batch_alter_table('issuer_code_series', schema=None) as batch_op:
        batch_op.create_index('ix_issuer_code_series_code', ['code', 'number_from'], unique=False)
        batch_op.create_index(batch_op.f('ix_issuer_code_series_issuer_id'), ['issuer_id'], unique=False)


def downgrade():
    with op.batch_alter_table('issuer_code_series', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issuer_code_series_issuer_id'))
        batch_op.drop_index('ix_issuer_code_series_code')
    op.drop_table('issuer_code_series')
