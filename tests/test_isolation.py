"""Test isolation itself: emptying the database between tests survives a request still in
flight (a live server's thread) and fails loudly when it cannot run."""
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from backend.extensions import db
from tests.conftest import postgres_only
from tests.isolation import CleanupFailed, empty_database


def _in_flight(engine, first_table, then_table=None, hold=0.5):
    """A transaction like a live server's request: reads `first_table`, waits, then reads
    `then_table` (if any) and ends. Returns (thread, holding event, errors)."""
    holding, errors = threading.Event(), []

    def run():
        with engine.connect() as conn:
            conn.execute(text(f"SELECT 1 FROM {first_table} LIMIT 1"))
            holding.set()
            time.sleep(hold)
            try:
                if then_table:
                    conn.execute(text(f"SELECT 1 FROM {then_table} LIMIT 1"))
            except OperationalError as exc:
                errors.append(exc)
            conn.rollback()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert holding.wait(5)
    return thread, errors


@postgres_only()
def test_emptying_survives_a_deadlock_with_a_request_in_flight(app_ctx, operator):
    operator.register_hospital()
    tables = [t.name for t in db.metadata.sorted_tables]
    # The request holds the last table the TRUNCATE needs and then asks for the first one,
    # which the TRUNCATE already holds: PostgreSQL breaks the cycle by failing the TRUNCATE.
    thread, _ = _in_flight(db.engine, tables[-1], then_table=tables[0])
    empty_database()
    thread.join(10)
    assert db.session.execute(text("SELECT count(*) FROM issuers")).scalar() == 0


@postgres_only()
def test_a_cleanup_that_cannot_run_fails_loudly(app_ctx, operator):
    operator.register_hospital()
    thread, _ = _in_flight(db.engine, "issuers", hold=2.0)
    with pytest.raises(CleanupFailed):
        empty_database(attempts=2, lock_timeout_ms=200)
    thread.join(10)
    assert db.session.execute(text("SELECT count(*) FROM issuers")).scalar() == 1
