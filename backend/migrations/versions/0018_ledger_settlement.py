"""ledger entries: the settlement split of a social-insurance centre's reimbursement

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-24 08:45:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settlement', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                                      nullable=True))


def downgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_column('settlement')
