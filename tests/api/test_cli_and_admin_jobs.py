import json

import pytest

from sqlalchemy import func, select

from backend.extensions import db
from backend.receipts.models import InboundWebhook


def test_create_operator_cli_prints_working_credentials(app_ctx, client):
    result = app_ctx.test_cli_runner().invoke(args=["create-operator", "海南省财政厅票据处"])
    assert result.exit_code == 0, result.output
    creds = json.loads(result.output)
    token = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials", **creds})
    assert token.status_code == 200 and token.json["token_type"] == "Bearer"


def test_oauth_refuses_wrong_secrets_and_grants(client, operator):
    wrong = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": operator.credentials["client_id"], "client_secret": "nope"})
    assert wrong.status_code == 401 and wrong.json["code"] == "invalid_client" and wrong.json["error"] == "invalid_client"
    grant = client.post("/api/v1/oauth/token", data={"grant_type": "password"})
    assert grant.status_code == 400 and grant.json["code"] == "unsupported_grant_type"
    basic = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                        auth=(operator.credentials["client_id"], operator.credentials["client_secret"]))
    assert basic.status_code == 200


def test_admin_endpoints_need_an_operator_token(client, operator):
    assert client.get("/api/v1/admin/jobs").json["code"] == "missing_token"
    resp = client.get("/api/v1/admin/jobs", headers={"Authorization": "Bearer not-a-jwt"})
    assert resp.status_code == 401 and resp.json["code"] == "invalid_token"
    overview = client.get("/api/v1/admin/jobs", headers=operator.headers)
    assert overview.status_code == 200
    assert overview.json["dead_webhook_deliveries"] == 0 and overview.json["undispatched_events"] == 0


def test_unit_tokens_cannot_use_admin_endpoints(operator, client):
    from tests.support import UnitClient

    unit = UnitClient.open(operator)
    resp = client.get("/api/v1/admin/jobs", headers=unit.headers)
    assert resp.status_code == 403 and resp.json["code"] == "wrong_role"


def test_sweep_and_purge_commands(app_ctx, operator):
    hospital = operator.register_hospital()
    hospital.issue()
    runner = app_ctx.test_cli_runner()
    swept = runner.invoke(args=["sweep"])
    assert swept.exit_code == 0 and json.loads(swept.output) == {"events": 0, "deliveries": 0, "locks": 0, "announcements": 0, "cancellations": 0}
    assert runner.invoke(args=["purge", "--hours", "1"]).exit_code != 0
    purged = runner.invoke(args=["purge"])
    assert json.loads(purged.output) == {"idempotency_keys": 0, "webhook_replays": 0, "used_assertions": 0, "stream_tickets": 0}
    assert db.session.scalar(select(func.count()).select_from(InboundWebhook)) == 1


@pytest.mark.parametrize("body", [{"grant_type": "client_credentials", "client_id": "x", "client_secret": ["a"]},
                                  ["client_credentials"], {"grant_type": 1}])
def test_malformed_token_requests_are_400(client, body):
    resp = client.post("/api/v1/oauth/token", json=body)
    assert resp.status_code == 400 and resp.json["code"] == "invalid_request"


def test_operator_statistics(client, operator):
    from tests.support import UnitClient

    hospital = operator.register_hospital()
    _, a = hospital.issue()
    _, b = hospital.issue()
    hospital.push("receipt.voided", {"code": b["code"], "number": b["number"], "reason": "重复"})
    unit = UnitClient.open(operator)
    token = unit.lock_with_proof(a).json["lock_token"]
    unit.feedback(f"{a['code']}-{a['number']}", token, amount="100.00")
    stats = client.get("/api/v1/admin/stats", headers=operator.headers).json
    assert stats["receipts"]["by_lifecycle"] == {"issued": 1, "voided": 1}
    assert stats["receipts"]["total_amount"] == "713.60" and stats["receipts"]["reimbursed_amount"] == "100.00"
    assert stats["feedback"] == {"reimbursed": 1, "rejected": 0} and stats["units"] == {"active": 1}
    assert client.get("/api/v1/admin/stats", headers=unit.headers).status_code == 403
