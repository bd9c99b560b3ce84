"""The federation cluster, shared by the federation test modules: a hub and three
provincial nodes (46 Hainan, 44 Guangdong, 42 Hubei) as real processes, each with its own
database and keys, a Hainan hospital pushing to node 46, and units on nodes 44 and 42."""
import json

import pytest
import requests

from tests.federation.cluster import Hospital, Process

# The hub's cap on payer subscriptions per node (tests/federation/test_federation_trust.py
# reaches it from a node of its own).
SUBSCRIPTIONS_PER_NODE = 40


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("federation")
    hub = Process("hub", "hub", "00", folder, FEDERATION_SUBSCRIPTIONS_PER_NODE=f"{SUBSCRIPTIONS_PER_NODE}/hour").start()
    nodes = {p: Process(f"n{p}", "node", p, folder, hub_url=hub.url).start() for p in ("46", "44", "42")}
    for province, node in nodes.items():
        entry = json.loads(hub.cli("federation", "add-node", province, node.url))
        assert entry["province"] == province and entry["keys"][0]["valid"]
    listed = json.loads(hub.cli("federation", "nodes"))
    assert [n["province"] for n in listed["nodes"]] == ["42", "44", "46"]
    hub_operator = hub.operator()
    assert [n["province"] for n in requests.get(hub.url + "/api/v1/admin/federation/nodes", headers=hub_operator).json()["nodes"]] == ["42", "44", "46"]
    operators = {p: n.operator() for p, n in nodes.items()}
    world = {"hub": hub, "nodes": nodes, "operators": operators, "hospital": Hospital(nodes["46"], operators["46"]),
             "hub_operator": hub_operator}
    world["units"] = {
        "44": nodes["44"].unit(operators["44"], "广州市医疗保障局", "11440100MB0000001X"),
        "42": nodes["42"].unit(operators["42"], "武汉市医疗保障局", "11420100MB0000002X"),
        "44b": nodes["44"].unit(operators["44"], "中国人寿广东分公司", "91440000MA5T000003", kind="commercial_insurer"),
    }
    yield world
    for node in nodes.values():
        node.stop()
        node.drop_database()
    hub.stop()
    hub.drop_database()
