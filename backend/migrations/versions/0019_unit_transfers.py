"""authorizations: a unit passing on its own receipt (no citizen, no QR request)

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-24 08:50:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('authorizations', schema=None) as batch_op:
        batch_op.alter_column('request_id', existing_type=sa.String(length=36), nullable=True)
        batch_op.alter_column('citizen_id', existing_type=sa.String(length=36), nullable=True)
        batch_op.add_column(sa.Column('grantor_unit_id', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_authorizations_grantor_unit_id'), ['grantor_unit_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_authorizations_grantor_unit_id_units'), 'units', ['grantor_unit_id'], ['id'])


def downgrade():
    with op.batch_alter_table('authorizations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_authorizations_grantor_unit_id_units'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_authorizations_grantor_unit_id'))
        batch_op.drop_column('grantor_unit_id')
        batch_op.alter_column('citizen_id', existing_type=sa.String(length=36), nullable=False)
        batch_op.alter_column('request_id', existing_type=sa.String(length=36), nullable=False)
