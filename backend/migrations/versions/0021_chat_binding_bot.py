"""chat bindings: the bot client that made each one (only it may change it)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 07:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('chat_bindings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bot_client_id', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_chat_bindings_bot_client_id'), ['bot_client_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_chat_bindings_bot_client_id_api_clients'), 'api_clients', ['bot_client_id'], ['id'])
    # Earlier bindings go to the bot client when there is exactly one (the usual deployment);
    # with several, nobody can tell which made them: they stay null, changed by no bot (the
    # citizen can still unbind them in the mini-app).
    op.execute("UPDATE chat_bindings SET bot_client_id = (SELECT id FROM api_clients WHERE role = 'bot') "
               "WHERE bot_client_id IS NULL AND (SELECT count(*) FROM api_clients WHERE role = 'bot') = 1")


def downgrade():
    with op.batch_alter_table('chat_bindings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_chat_bindings_bot_client_id_api_clients'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_chat_bindings_bot_client_id'))
        batch_op.drop_column('bot_client_id')
