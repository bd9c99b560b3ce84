from sqlalchemy import func, select

from backend.demo.receipts import DEMO_HOSPITALS, DEMO_PAYERS, demo_plan
from backend.demo.seed import DEMO_UNITS, seed_demo
from backend.extensions import db
from backend.issuers.models import Issuer
from backend.receipts.models import InboundWebhook, Receipt, ReceiptDataFile, TimelineEntry


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
    # 三亚中心医院 pushed SM2-sealed national data files, kept as received; the others JSON.
    sanya = db.session.scalar(select(Issuer).where(Issuer.name == "三亚中心医院"))
    from_files = {r.issuer_id for r in db.session.scalars(select(Receipt).join(ReceiptDataFile, ReceiptDataFile.receipt_id == Receipt.id)
                                                           .where(ReceiptDataFile.source == "issuer"))}
    assert from_files == {sanya.id} and {k.alg for k in sanya.keys} == {"SM2"}
    assert db.session.scalar(select(func.count()).select_from(Receipt).where(Receipt.issuer_id == sanya.id)) == \
        db.session.scalar(select(func.count()).select_from(ReceiptDataFile).where(ReceiptDataFile.source == "issuer")) > 0

    # The demo units can sign in to the counter console with the printed credentials.
    assert [u["name"] for u in summary["units"]] == [u["name"] for u in DEMO_UNITS]
    client = app_ctx.test_client()
    for unit in summary["units"]:
        token = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": unit["client_id"],
                                                          "client_secret": unit["client_secret"]}).json["access_token"]
        assert client.get("/api/v1/unit/me", headers={"Authorization": f"Bearer {token}"}).json["name"] == unit["name"]

    again = seed_demo(app_ctx)
    assert again["newly_applied"] == 0 and again["operator"] == summary["operator"] and again["units"] == summary["units"]
    assert db.session.scalar(select(func.count()).select_from(TimelineEntry)) == len(demo_plan()) + 1
