"""Fixtures: one app per session on the database named by TEST_DATABASE_URL.

TEST_DATABASE_URL unset → the embedded default (a SQLite file in a temp folder).
Set to PostgreSQL (postgresql+psycopg://…) → the schema is dropped and rebuilt with the
Alembic migrations at session start, and every table is truncated after each test, so
tests that commit from several threads see real transactions. The truncation waits a
bounded time for locks and retries (tests/isolation.py); when it still fails, the next test
errors instead of running on this one's rows. Browser tests first close their pages and wait
for the live server's requests to finish (LiveServer.drain).

The `app` fixture runs jobs inline, so API tests see their effects at once. Tests of the
production job path (RQ, a real worker process, Redis going away) use `redis_url`, which
is TEST_REDIS_URL and skips the test when it is unset.
"""
import os

import pytest
from sqlalchemy import text

from backend import create_app
from backend.extensions import db
from tests.isolation import empty_database
from tests.support import Operator


# Every ID number the tests use (tests/support.py, the demo citizens): none may reach a log.
TEST_ID_NUMBERS = ("460200199001011234", "460100198505052345")


@pytest.fixture(scope="session", autouse=True)
def no_id_number_in_any_log(tmp_path_factory):
    """Captures every log record of the whole run through the production handler and
    greps the result for the ID numbers the tests used."""
    import logging

    from backend.common.logging import build_handler
    from backend.demo.citizens import DEMO_CITIZENS

    path = tmp_path_factory.mktemp("logs") / "run.log"
    stream = open(path, "w", encoding="utf-8")
    handler = build_handler(stream, as_json=True)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    yield
    root.removeHandler(handler)
    stream.close()
    text = path.read_text(encoding="utf-8")
    numbers = set(TEST_ID_NUMBERS) | {c["id_number"] for c in DEMO_CITIZENS.values()}
    leaked = sorted(n for n in numbers if n in text)
    assert not leaked, f"ID numbers in the logs of this run: {leaked} (see {path})"
    assert text or not APP_USED, "the log capture saw nothing although the app ran"


APP_USED = []


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    APP_USED.append(True)
    instance = tmp_path_factory.mktemp("instance")
    os.environ["PIAOJIA_ENV"] = "test"
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{instance / 'test.sqlite3'}"
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": url,
        "REDIS_URL": None,
        "RATELIMIT_STORAGE_URI": "memory://",
    })
    app.instance_path = str(instance)
    with app.app_context():
        _rebuild_schema(app)
    yield app


def _rebuild_schema(app):
    from flask_migrate import upgrade

    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade()


# Set while a test's rows may still be in the database: a cleanup that failed is tried again
# before the next test, which errors (CleanupFailed) rather than run on those rows.
_UNCLEAN = []


@pytest.fixture()
def app_ctx(app):
    with app.app_context():
        if _UNCLEAN:
            empty_database()
            _UNCLEAN.clear()
        yield app
        from backend.extensions import limiter

        limiter.reset()  # failed-attempt counts and rate limits belong to one test
        db.session.rollback()
        db.session.remove()
        _UNCLEAN.append(True)
        try:
            empty_database()
            _UNCLEAN.clear()
        finally:
            db.session.remove()


@pytest.fixture()
def redis_url():
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("needs Redis (TEST_REDIS_URL)")
    from redis import Redis

    Redis.from_url(url).flushdb()
    return url


@pytest.fixture()
def client(app_ctx):
    return app_ctx.test_client()


@pytest.fixture()
def operator(client):
    return Operator.create(client)


def pytest_report_header(config):
    return f"database: {os.environ.get('TEST_DATABASE_URL') or 'embedded SQLite'}; redis: {os.environ.get('TEST_REDIS_URL') or 'none (jobs inline)'}"


def postgres_only():
    return pytest.mark.skipif(
        not (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgresql"),
        reason="needs PostgreSQL (TEST_DATABASE_URL)",
    )
