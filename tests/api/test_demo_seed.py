from sqlalchemy import func, select

from backend.demo.receipts import DEMO_HOSPITALS, DEMO_PAYERS, demo_plan
from backend.demo.seed import seed_demo
from backend.extensions import db
from backend.issuers.models import Issuer
from backend.receipts.models import InboundWebhook, Receipt, TimelineEntry


def test_seed_demo_pushes_through_the_webhook_and_is_idempotent(app_ctx, tmp_path, monkeypatch):
    monkeypatch.setattr(app_ctx, "instance_path", str(tmp_path))
    summary = seed_demo(app_ctx)
    assert summary["receipts"] == len(demo_plan()) == summary["newly_applied"]
    assert set(summary["hospitals"]) == {h["name"] for h in DEMO_HOSPITALS}
    assert db.session.scalar(select(func.count()).select_from(Issuer)) == 3
    assert db.session.scalar(select(func.count()).select_from(Receipt)) == len(demo_plan())
    # Every receipt arrived as a signed delivery, plus the one red reversal.
    assert db.session.scalar(select(func.count()).select_from(InboundWebhook)) == len(demo_plan()) + 1
    assert db.session.scalar(select(func.count()).select_from(Receipt).where(Receipt.lifecycle == "red_reversed")) == 1
    payers = {r.payer_hash for r in db.session.scalars(select(Receipt))}
    assert len(payers) == len(DEMO_PAYERS)

    again = seed_demo(app_ctx)
    assert again["newly_applied"] == 0 and again["operator"] == summary["operator"]
    assert db.session.scalar(select(func.count()).select_from(TimelineEntry)) == len(demo_plan()) + 1
