"""Checks of one receipt at the same instant on PostgreSQL, on the channels that count: none
is lost, each answers a count that includes itself, and the next check sees them all."""
import threading

from sqlalchemy import func, select

from backend.extensions import db
from backend.verification.models import ReceiptCheck
from tests.conftest import postgres_only
from tests.support import ZHANG_SAN_ID, UnitClient, receipt_key

pytestmark = postgres_only()

PER_CHANNEL = 4


def test_concurrent_checks_lose_no_count(app, client, operator):
    _, sent = operator.register_hospital().issue(payer_id=ZHANG_SAN_ID)
    key = receipt_key(sent)
    elements = {k: sent[k] for k in ("code", "number", "check_code", "issue_date", "total_amount")}
    item = {k: sent[k] for k in ("code", "number", "check_code", "total_amount")}

    def by_elements(http, address):
        return http.post("/api/v1/verify", json=elements, environ_base={"REMOTE_ADDR": address}).json["check_count"]

    def by_qr_page(http, address):
        page = http.get(f"/v/{key}?c={sent['check_code']}", environ_base={"REMOTE_ADDR": address})
        return "page shows the count" if "次（含本次）" in page.get_data(as_text=True) else page.status_code

    def by_unit(unit):
        return lambda http, _: unit.post("/receipts/verify", json={"items": [item]}, client=http).json["items"][0]["check_count"]

    checks = [by_elements] * PER_CHANNEL + [by_qr_page] * PER_CHANNEL + [by_unit(UnitClient.open(operator)) for _ in range(PER_CHANNEL)]
    answers, barrier = [], threading.Barrier(len(checks))

    def check(ask, address):
        with app.app_context():
            barrier.wait()
            answers.append(ask(app.test_client(), address))

    # Each anonymous checker from its own address: one address's concurrent checks share its attempt budget.
    threads = [threading.Thread(target=check, args=(ask, f"198.51.100.{n + 1}")) for n, ask in enumerate(checks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(answers) == len(checks), answers
    counts = [a for a in answers if a != "page shows the count"]
    assert len(counts) == len(checks) - PER_CHANNEL and all(1 <= count <= len(checks) for count in counts), answers
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ReceiptCheck)) == len(checks)
    assert client.post("/api/v1/verify", json=elements).json["check_count"] == len(checks) + 1
