"""The row cache's listener on real Redis, in-process: copies are served only while it is
subscribed, and a lost subscription (announcements may have been missed) drops them all."""
import time

import pytest
from redis import Redis
from sqlalchemy import text

from backend.common import row_cache
from backend.extensions import db
from backend.units.models import Unit
from tests.support import UnitClient


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


@pytest.fixture()
def cached(app_ctx, redis_url):
    app_ctx.config["REDIS_URL"] = redis_url
    try:
        state = row_cache._current(app_ctx)
        wait_for(lambda: state.ready)
        yield state
    finally:
        state.stopped = True
        app_ctx.config["REDIS_URL"] = None


def rename_behind_the_apps_back(unit_id, name):
    db.session.execute(text("UPDATE units SET name = :name WHERE id = :id"), {"name": name, "id": unit_id})
    db.session.commit()


def read(unit_id) -> str:
    db.session.remove()  # a new request: nothing left in the session's identity map
    return row_cache.get(Unit, unit_id).name


def test_a_copy_is_served_until_the_row_changes_through_the_orm(operator, cached):
    unit = UnitClient.open(operator, name="三亚市医疗保障局")
    assert read(unit.id) == "三亚市医疗保障局"
    rename_behind_the_apps_back(unit.id, "改名一")
    assert read(unit.id) == "三亚市医疗保障局"  # the copy

    row = db.session.get(Unit, unit.id)
    row.status_reason = "核查"
    db.session.commit()  # an ORM change of the row: announced after commit
    wait_for(lambda: ("units", unit.id) not in cached.rows)
    assert read(unit.id) == "改名一"


def test_a_lost_subscription_drops_every_copy_and_reads_the_database_meanwhile(operator, cached, redis_url):
    unit = UnitClient.open(operator, name="三亚市医疗保障局")
    assert read(unit.id) == "三亚市医疗保障局"
    assert ("units", unit.id) in cached.rows

    rename_behind_the_apps_back(unit.id, "改名二")
    Redis.from_url(redis_url).client_kill_filter(_type="pubsub")  # the listener's connection dies
    wait_for(lambda: ("units", unit.id) not in cached.rows)
    assert read(unit.id) == "改名二"  # straight from the database, before and after the listener is back
    wait_for(lambda: cached.ready)
    assert read(unit.id) == "改名二"
