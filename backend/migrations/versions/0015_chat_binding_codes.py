"""chat binding codes; refresh-token scope (a chat binding's delegated session)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-24 08:20:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('chat_binding_codes',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('citizen_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], name=op.f('fk_chat_binding_codes_citizen_id_citizens')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_binding_codes')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_chat_binding_codes_code_hash'))
    )
    with op.batch_alter_table('chat_binding_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_binding_codes_citizen_id'), ['citizen_id'], unique=False)
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scope', sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_column('scope')
    with op.batch_alter_table('chat_binding_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chat_binding_codes_citizen_id'))
    op.drop_table('chat_binding_codes')
