"""Emptying the test database between tests, deterministically.

A live server's thread (tests/e2e) may still be inside a request when a test ends; its
transaction and the TRUNCATE can then wait on each other (PostgreSQL answers
`DeadlockDetected` to one of them) or the TRUNCATE waits forever. So the TRUNCATE waits at
most `lock_timeout` for each lock, is tried again a few times, and when it still cannot
run it raises: a test never starts on the previous test's rows."""
import time

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from backend.extensions import db


class CleanupFailed(RuntimeError):
    pass


def empty_database(attempts=5, lock_timeout_ms=2000):
    """Deletes every row of every table (TRUNCATE on PostgreSQL), retrying on lock conflicts."""
    tables = [t.name for t in db.metadata.sorted_tables]
    postgres = db.engine.dialect.name == "postgresql"
    for attempt in range(1, attempts + 1):
        try:
            if postgres:
                db.session.execute(text(f"SET LOCAL lock_timeout = '{int(lock_timeout_ms)}ms'"))
                db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for name in reversed(tables):
                    db.session.execute(text(f"DELETE FROM {name}"))
            db.session.commit()
            return
        except OperationalError as exc:  # deadlock, lock timeout, SQLite "database is locked"
            db.session.rollback()
            if attempt == attempts:
                raise CleanupFailed(f"could not empty the test database in {attempts} tries: {exc.orig!r}") from exc
            time.sleep(0.1 * attempt)
