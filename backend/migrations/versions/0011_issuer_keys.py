"""issuer seal keys: several per issuer, for rotation

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 22:05:00

"""
import hashlib
import uuid

import sqlalchemy as sa
from alembic import op
from cryptography.hazmat.primitives import serialization

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def _fingerprint(pem: str) -> str:
    key = serialization.load_pem_public_key(pem.encode())
    return hashlib.sha256(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()


def upgrade():
    op.create_table('issuer_keys',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('issuer_id', sa.String(length=36), nullable=False),
    sa.Column('public_key_pem', sa.Text(), nullable=False),
    sa.Column('alg', sa.String(length=16), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['issuer_id'], ['issuers.id'], name=op.f('fk_issuer_keys_issuer_id_issuers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issuer_keys'))
    )
    with op.batch_alter_table('issuer_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issuer_keys_issuer_id'), ['issuer_id'], unique=False)

    # Every issuer's registered key becomes its first key (created_at copied as stored).
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, public_key_pem, alg, created_at FROM issuers")).fetchall()
    if rows:
        bind.execute(sa.text("INSERT INTO issuer_keys (id, issuer_id, public_key_pem, alg, fingerprint, created_at, expires_at)"
                             " VALUES (:id, :issuer_id, :pem, :alg, :fingerprint, :created_at, NULL)"), [
            {"id": str(uuid.uuid4()), "issuer_id": r.id, "pem": r.public_key_pem, "alg": r.alg,
             "fingerprint": _fingerprint(r.public_key_pem), "created_at": r.created_at}
            for r in rows
        ])
    with op.batch_alter_table('issuers', schema=None) as batch_op:
        batch_op.drop_column('public_key_pem')
        batch_op.drop_column('alg')


def downgrade():
    with op.batch_alter_table('issuers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alg', sa.String(length=16), nullable=False, server_default='ES256'))
        batch_op.add_column(sa.Column('public_key_pem', sa.Text(), nullable=False, server_default=''))
    # Back to one key per issuer: the newest.
    op.execute("UPDATE issuers SET public_key_pem = k.public_key_pem, alg = k.alg FROM issuer_keys k "
               "WHERE k.issuer_id = issuers.id AND k.created_at = (SELECT max(created_at) FROM issuer_keys WHERE issuer_id = issuers.id)"
               if op.get_bind().dialect.name == "postgresql" else
               "UPDATE issuers SET public_key_pem = (SELECT public_key_pem FROM issuer_keys k WHERE k.issuer_id = issuers.id ORDER BY created_at DESC LIMIT 1), "
               "alg = (SELECT alg FROM issuer_keys k WHERE k.issuer_id = issuers.id ORDER BY created_at DESC LIMIT 1)")
    with op.batch_alter_table('issuer_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issuer_keys_issuer_id'))
    op.drop_table('issuer_keys')
