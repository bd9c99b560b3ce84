"""The Grafana dashboard (docs/grafana/piaojia-node.json) queries only metrics the node exports."""
import json
import re
from pathlib import Path

import pytest

DASHBOARD = Path(__file__).resolve().parent.parent / "docs" / "grafana" / "piaojia-node.json"
# Series Prometheus itself writes for every scrape target; they are never in an exposition.
PER_TARGET_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                     "scrape_samples_post_metric_relabeling", "scrape_series_added"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
                "and", "or", "unless", "offset", "inf", "nan"}
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels or keywords)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)                  # string literals
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)                 # label matchers, ranges
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set(re.findall(r"(?<![\w$.])([A-Za-z_:][\w:]*)\b(?!\s*\()", expr))
    return names - PROMQL_WORDS


def exported(text: str) -> dict[str, str]:
    """Metric family name → type, from the exposition's TYPE lines (present even without samples)."""
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))


def is_exported(name: str, families: dict[str, str]) -> bool:
    if name in families:
        return True
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and families.get(name[: -len(suffix)]) == "histogram":
            return True
    return False


def panels(dashboard):
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # collapsed rows hold their panels


@pytest.fixture(scope="module")
def dashboard():
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def test_panels_have_unique_ids_and_do_not_overlap(dashboard):
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids))
    taken = {}
    for p in panels(dashboard):
        pos = p["gridPos"]
        assert pos["x"] + pos["w"] <= 24, p["title"]
        for cell in ((x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])):
            assert cell not in taken, f'{p["title"]!r} overlaps {taken[cell]!r}'
            taken[cell] = p["title"]
    assert dashboard["schemaVersion"] == 39
    assert [p["title"] for p in panels(dashboard) if p["type"] == "row"] == [
        "Traffic and latency", "Delivery (outbox, queues, webhooks, hub)", "Live streams and locks", "Processes"]


def test_every_query_names_a_metric_the_node_exports(dashboard, client):
    client.get("/api/v1/no-such-route")  # one observation, so the histogram has samples in every mode
    families = exported(client.get("/metrics").get_data(as_text=True))
    assert "piaojia_http_request_duration_seconds" in families  # the exposition was read

    # The checker itself catches a missing metric (process metrics are not in this exposition).
    assert metric_names('sum by (instance) (rate(process_cpu_seconds_total{job=~"$job"}[5m]))') == {"process_cpu_seconds_total"}
    assert not is_exported("process_cpu_seconds_total", families)
    assert not is_exported("piaojia_outbox_lag_seconds_count", families)  # histogram suffix on a gauge

    queries = [(p["title"], t["expr"]) for p in panels(dashboard) for t in p.get("targets", [])]
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            queries.append((f'variable {var["name"]}', re.match(r"label_values\((.*),\s*\w+\)$", query).group(1)))
    assert len(queries) > 20
    seen = set()
    for title, expr in queries:
        names = metric_names(expr)
        assert names, f"{title}: no metric in {expr!r}"
        seen |= names
        missing = {n for n in names if n not in PER_TARGET_SERIES and not is_exported(n, families)}
        assert not missing, f"{title}: {sorted(missing)} not exported at /metrics"
    # Every piaojia_* family is on the dashboard.
    assert {n for n in families if n.startswith("piaojia_") and not n.endswith("_created")} <= {
        re.sub(r"_(bucket|count|sum)$", "", n) for n in seen}


def test_panels_use_the_datasource_variable(dashboard):
    (ds,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert (ds["name"], ds["query"]) == ("DS_PROMETHEUS", "prometheus")
    for p in panels(dashboard):
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${DS_PROMETHEUS}", p["title"]
            assert all(t["datasource"]["uid"] == "${DS_PROMETHEUS}" for t in p["targets"]), p["title"]
