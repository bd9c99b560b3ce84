"""Migration 0011 moves each issuer's registered key into issuer_keys, and back — on the
embedded SQLite and, when the suite runs on PostgreSQL, on a scratch PostgreSQL database."""
import os
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

from backend import create_app


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
        return
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    name = f"piaojia_migrate_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_registered_keys_survive_the_move_to_issuer_keys_and_back(scratch_url):
    url = scratch_url
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None, "RATELIMIT_STORAGE_URI": "memory://"})
    pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    engine = create_engine(url)
    with app.app_context():
        upgrade(revision="0010")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO issuers (id, name, credit_code, province, public_key_pem, alg, status, created_at) "
                              "VALUES ('i1', '三亚中心医院', '12460200428201234X', '46', :pem, 'ES256', 'active', '2026-01-01 00:00:00')"),
                         {"pem": pem})
        upgrade(revision="0011")
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT issuer_id, public_key_pem, alg, expires_at, length(fingerprint) FROM issuer_keys")).fetchall()
            columns = {c["name"] for c in inspect(conn).get_columns("issuers")}
        assert [tuple(r) for r in rows] == [("i1", pem, "ES256", None, 64)]
        assert "public_key_pem" not in columns and "alg" not in columns
        downgrade(revision="0010")
        with engine.connect() as conn:
            assert tuple(conn.execute(text("SELECT public_key_pem, alg FROM issuers WHERE id = 'i1'")).one()) == (pem, "ES256")
    engine.dispose()
