"""Cross-province federation (DESIGN §6): provincial nodes and a national hub.

The issuing province's node is authoritative for its receipts. It announces every change,
keyed by the payer's federated hash, to the hub, which forwards it to the nodes where that
payer has an account; those keep a synced copy for the wallet and pushes. Units' requests on
a foreign receipt travel through the hub to the issuing node, which decides and answers
within the request. Every message is a compact JWS (ES256 with `kid`) signed by its sender.

- keys, messages: signing and opening messages; directory: the hub's list of nodes and keys;
- transport: posting a message and reading the signed answer;
- hub: the hub's routing; inbound: a node's handlers; forward: a node asking another;
- outbound: announcements and subscriptions (delivery side: reads models, calls no service);
- snapshot: a receipt as announced, and applying it to a synced copy.
"""


def enabled(app_or_config) -> bool:
    cfg = getattr(app_or_config, "config", app_or_config)
    return bool(cfg.get("HUB_URL")) and cfg.get("NODE_ROLE", "node") == "node"


def is_hub(app_or_config) -> bool:
    cfg = getattr(app_or_config, "config", app_or_config)
    return cfg.get("NODE_ROLE") == "hub"
