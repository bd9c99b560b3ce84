"""Prometheus metrics: latency by route, state figures, protected from the public."""
from tests.support import UnitClient, citizen_login


def _sample(text: str, name: str, **labels) -> float | None:
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_show_latency_by_route_and_the_node_state(client, operator):
    hospital = operator.register_hospital()
    _, sent = hospital.issue()
    unit = UnitClient.open(operator)
    assert unit.lock_with_proof(sent).status_code == 201
    client.get("/api/v1/me/receipts/460200199001011234", headers=citizen_login(client))
    text = client.get("/metrics").get_data(as_text=True)
    assert _sample(text, "piaojia_http_request_duration_seconds_count", route="/api/v1/unit/receipts/<key>/lock", status="201") >= 1
    assert _sample(text, "piaojia_http_request_duration_seconds_count", route="/api/v1/me/receipts/<key>", status="404") >= 1
    assert "460200199001011234" not in text  # routes, not paths: no IDs, bounded label values
    assert _sample(text, "piaojia_open_locks") == 1
    assert _sample(text, "piaojia_outbox_lag_seconds") == 0  # delivered inline: nothing waits
    assert _sample(text, "piaojia_sse_connections") is not None


def test_metrics_are_not_public(app, client):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 401
    app.config["METRICS_TOKEN"] = "s3cret-metrics-token"
    try:
        assert client.get("/metrics").status_code == 401  # a token is configured: loopback alone is not enough
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"}).status_code == 200
    finally:
        app.config["METRICS_TOKEN"] = None
