"""What a node believes of other nodes, in-process (the four-process journeys are in
tests/federation): synced copies move forward only by sane steps, a cancelled unit's lock
on another province's receipt is handed to its issuing node, and a message names exactly
one audience."""
import copy
import time
import uuid
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import select, update

from backend.common.models import utcnow
from backend.extensions import db
from backend.federation import inbound, keys, messages
from backend.federation.models import PendingCancellation
from backend.federation.snapshot import build
from backend.receipts.models import Receipt
from backend.reimbursements.models import Lock
from tests.support import UnitClient, receipt_key

FOREIGN_CODE = "44060125"


@pytest.fixture()
def payer_key(app_ctx):
    saved = app_ctx.config.get("FEDERATION_PAYER_KEY")
    app_ctx.config["FEDERATION_PAYER_KEY"] = saved or "in-process-payer-key"
    yield
    app_ctx.config["FEDERATION_PAYER_KEY"] = saved


def foreign_snapshot(local: Receipt, number: str, *, lock_unit=None) -> dict:
    """A snapshot as node 44 would announce its receipt: built from a local one, renamed."""
    snap = copy.deepcopy(build(local))
    db.session.rollback()
    snap["receipt"].update(code=FOREIGN_CODE, number=number)
    snap["key"] = f"{FOREIGN_CODE}-{number}"
    snap["issuer"] = {"id": str(uuid.uuid4()), "name": "广州市第一人民医院", "credit_code": "12440100455000000X", "province": "44"}
    if lock_unit is not None:
        now = utcnow()
        snap["status"]["lock"] = {"unit": {"id": lock_unit.id, "name": lock_unit.name}, "unit_id": lock_unit.id,
                                  "locked_at": now.isoformat(), "expires_at": (now + timedelta(days=7)).isoformat()}
    return snap


def grown(snap: dict, entries: int) -> dict:
    """The same snapshot after `entries` more changes on its issuing node."""
    later = copy.deepcopy(snap)
    entry = later["timeline"][-1]
    later["timeline"] += [dict(entry, reason=f"change {i}") for i in range(entries)]
    later["version"] = len(later["timeline"])
    return later


@pytest.fixture()
def local_receipt(operator, payer_key):
    resp, data = operator.register_hospital().issue()
    assert resp.status_code == 202
    return db.session.scalar(select(Receipt).where(Receipt.number == data["number"])), data


def test_a_synced_copy_moves_forward_only_by_sane_steps(app_ctx, local_receipt):
    local, _ = local_receipt
    snap = foreign_snapshot(local, "0000000001")
    assert snap["version"] == len(snap["timeline"]) == 1
    copy_ = inbound.apply_snapshot(snap, "44")
    assert copy_.sync_state["version"] == 1
    # The probe's lie: a version of 10⁹ (with a voided lifecycle and an inflated total).
    lie = copy.deepcopy(snap)
    lie.update(version=10**9)
    lie["status"]["lifecycle"] = "voided"
    lie["receipt"]["total_amount"] = "99999.00"
    with pytest.raises(inbound.SnapshotRefused) as refused:
        inbound.apply_snapshot(lie, "44")
    assert refused.value.code == "implausible_version"
    # Consistent with its timeline, but far ahead of the copy: refused too.
    far = grown(snap, app_ctx.config["FEDERATION_MAX_VERSION_STEP"] + 1)
    far["status"]["lifecycle"] = "voided"
    with pytest.raises(inbound.SnapshotRefused):
        inbound.apply_snapshot(far, "44")
    kept = db.session.scalar(select(Receipt).where(Receipt.code == FOREIGN_CODE))
    assert (kept.lifecycle, kept.total_fen, kept.sync_state["version"]) == ("issued", local.total_fen, 1)
    # Genuine updates still replace it, one change or several at a time.
    voided = grown(snap, 3)
    voided["status"]["lifecycle"] = "voided"
    assert inbound.apply_snapshot(voided, "44").lifecycle == "voided"
    # And an older version never moves it back.
    assert inbound.apply_snapshot(snap, "44").lifecycle == "voided"


def test_a_snapshot_must_name_the_receipt_it_carries(app_ctx, local_receipt):
    local, _ = local_receipt
    snap = foreign_snapshot(local, "0000000002")
    snap["key"] = f"{FOREIGN_CODE}-0000000003"
    with pytest.raises(inbound.SnapshotRefused):
        inbound.apply_snapshot(snap, "44")
    assert db.session.scalar(select(Receipt).where(Receipt.code == FOREIGN_CODE)) is None


def test_a_synced_copy_holds_a_remote_lock_and_no_lock_row(app_ctx, operator, local_receipt):
    local, _ = local_receipt
    unit = UnitClient.open(operator)
    synced = inbound.apply_snapshot(foreign_snapshot(local, "0000000004", lock_unit=unit), "44")
    assert synced.lock_id is None and synced.lock_unit_id == unit.id
    citizen_view = app_ctx.test_client()
    from tests.support import citizen_login

    headers = citizen_login(citizen_view)
    locked = citizen_view.get("/api/v1/me/receipts", headers=headers, query_string={"status": "locked"}).json["items"]
    assert [r["key"] for r in locked] == [synced.key]


def test_cancelling_a_unit_releases_its_local_locks_and_hands_foreign_ones_to_their_issuing_node(app_ctx, operator, local_receipt):
    local, data = local_receipt
    unit = UnitClient.open(operator, name="将注销的医保局")
    other = UnitClient.open(operator, name="另一家保险公司", kind="commercial_insurer")
    assert unit.lock_with_proof(data).status_code == 201  # a local lock
    _, second = operator.register_hospital(name="海口市人民医院", credit_code="12460100428201234X").issue()
    assert other.lock_with_proof(second).status_code == 201  # someone else's lock, which must survive
    synced = inbound.apply_snapshot(foreign_snapshot(local, "0000000005", lock_unit=unit), "44")  # a remote lock
    # The probe's collision: another unit's lock whose id equals the cancelled unit's id.
    others_lock = db.session.scalar(select(Lock).where(Lock.unit_id == other.id))
    second_receipt = db.session.scalar(select(Receipt).where(Receipt.number == second["number"]))
    db.session.execute(update(Lock).where(Lock.id == others_lock.id).values(id=unit.id))
    db.session.execute(update(Receipt).where(Receipt.id == second_receipt.id).values(lock_id=unit.id))
    db.session.commit()

    resp = operator.client.post(f"/api/v1/admin/units/{unit.id}/cancel", headers=operator.headers, json={"reason": "机构撤销"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Receipt, local.id).lock_unit_id is None  # local: released here
    survivor = db.session.get(Receipt, second_receipt.id)
    assert survivor.lock_unit_id == other.id and db.session.get(Lock, unit.id).ended_at is None  # untouched
    # Foreign: the issuing node decides; the release is pending until it has answered.
    pending = db.session.scalars(select(PendingCancellation)).all()
    assert [(p.kind, p.receipt_key, p.unit_id, p.done_at) for p in pending] == [("unit_cancelled", synced.key, unit.id, None)]
    assert db.session.get(Receipt, synced.id).lock_unit_id == unit.id


def test_a_message_has_exactly_one_audience(app_ctx):
    now = int(time.time())
    claims = {"iss": "46", "aud": ["46", "42"], "jti": uuid.uuid4().hex, "iat": now, "exp": now + 60, "typ": "unit.verify",
              "body": {}}
    token = jwt.encode(claims, keys.signing_key(), algorithm="ES256", headers={"kid": keys.current_kid()})
    lookup = lambda province, kid: keys.signing_key().public_key() if kid == keys.current_kid() else None  # noqa: E731
    with pytest.raises(messages.MessageRefused) as refused:
        messages.open_(token, lookup)
    assert refused.value.code == "wrong_audience"
    single = jwt.encode({**claims, "aud": "46"}, keys.signing_key(), algorithm="ES256", headers={"kid": keys.current_kid()})
    assert messages.open_(single, lookup)["aud"] == "46"
