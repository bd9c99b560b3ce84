"""Every operation documents what it answers (issue 9): a success answer with a schema, its
error answers as problem details, its security scheme; every timestamp in every answer
schema is a date-time, and every timestamp actually answered is ISO 8601 with an offset."""
import re

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$")
RFC1123 = re.compile(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} \w{3} \d{4}")
TIMESTAMP_NAMES = re.compile(r"(_at|_until|^since|^as_of|^at|^time)$")
NON_JSON = {("get", "/api/v1/me/stream"), ("get", "/api/v1/unit/authorization-requests/{request_id}/qr.png"),
            ("get", "/api/v1/unit/authorization-requests/{request_id}/qr.svg"), ("post", "/api/v1/federation/messages"),
            ("get", "/api/v1/me/receipts/{key}/layout.pdf"), ("get", "/api/v1/unit/receipts/{key}/layout.pdf"),
            ("get", "/api/v1/platform/layout-cert.pem"), ("get", "/api/v1/unit/archive"),
            ("get", "/api/v1/me/receipts/{key}/data-file"), ("get", "/api/v1/unit/receipts/{key}/data-file")}
PUBLIC = {("post", "/api/v1/oauth/token"), ("post", "/api/v1/issuers/{issuer_id}/webhook"), ("get", "/api/v1/platform/jwks.json"),
          ("post", "/api/v1/auth/citizen"), ("post", "/api/v1/auth/refresh"), ("post", "/api/v1/auth/logout"),
          ("post", "/api/v1/verify"), ("get", "/api/v1/demo/citizens"), ("post", "/api/v1/demo/assertion"),
          # federation: public keys, the hub's directory; messages authenticate themselves (signed JWS)
          ("get", "/api/v1/federation/jwks.json"), ("get", "/api/v1/federation/directory"), ("post", "/api/v1/federation/messages"),
          ("get", "/api/v1/platform/layout-cert.pem"), ("post", "/api/v1/verify/layout"), ("post", "/api/v1/verify/data-file")}


def _operations(spec):
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if method in ("get", "post", "put", "delete", "patch"):
                yield method, path, operation


def _resolve(spec, node):
    while isinstance(node, dict) and "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = spec["components"][kind][name]
    return node


def test_every_operation_documents_success_errors_and_security(client):
    spec = client.get("/api/v1/openapi.json").json
    problems = []
    for method, path, operation in _operations(spec):
        responses = {code: _resolve(spec, r) for code, r in operation["responses"].items()}
        success = [code for code in responses if code.startswith("2")]
        if not success:
            problems.append(f"{method} {path}: no success answer")
            continue
        for code in success:
            if code == "204" or (method, path) in NON_JSON:
                continue
            content = responses[code].get("content", {})
            schema = _resolve(spec, content.get("application/json", {}).get("schema"))
            if not schema or not (schema.get("properties") or schema.get("items") or schema.get("additionalProperties")):
                problems.append(f"{method} {path}: {code} has no JSON schema with fields")
            example = content.get("application/json", {}).get("example")
            if not example or (isinstance(example, dict) and set(example) != set(schema.get("properties") or example)):
                problems.append(f"{method} {path}: {code} has no example of its schema's shape")
        errors = [code for code in responses if code == "default" or code[0] in "45"]
        if not errors or any("application/problem+json" not in responses[c].get("content", {}) for c in errors):
            problems.append(f"{method} {path}: errors not documented as problem details")
        if (method, path) not in PUBLIC and not operation.get("security"):
            problems.append(f"{method} {path}: no security scheme")
        if not operation.get("summary"):
            problems.append(f"{method} {path}: no summary")
    assert problems == [], "\n".join(problems)


def test_every_timestamp_in_every_schema_is_a_date_time(client):
    spec = client.get("/api/v1/openapi.json").json
    wrong = []

    def walk(name, schema, where):
        schema = _resolve(spec, schema)
        if not isinstance(schema, dict):
            return
        if TIMESTAMP_NAMES.search(name or "") and schema.get("type") == "string" and schema.get("format") != "date-time":
            wrong.append(f"{where}.{name}")
        for prop, sub in (schema.get("properties") or {}).items():
            walk(prop, sub, f"{where}.{name}" if name else where)
        if "items" in schema:
            walk(name, schema["items"], where)

    for schema_name, schema in spec["components"]["schemas"].items():
        walk("", schema, schema_name)
    assert wrong == [], wrong


def _timestamps(value, key=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _timestamps(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _timestamps(v, key)
    elif isinstance(value, str) and (TIMESTAMP_NAMES.search(key) or RFC1123.search(value)):
        yield key, value


def test_every_answered_timestamp_is_iso_8601_with_an_offset(app_ctx, client, operator):
    """A whole journey, collecting every JSON answer."""
    from tests.support import UnitClient, citizen_login, receipt_key

    answers = []

    def keep(resp):
        if resp.is_json:
            answers.append((resp.request.path, resp.json))
        return resp

    hospital = operator.register_hospital()
    _, sent = hospital.issue()
    key = receipt_key(sent)
    unit = UnitClient.open(operator)
    zhang = citizen_login(client)
    created = keep(unit.post("/authorization-requests", json={"purpose": "医保零星报销", "reference": "BX-1"})).json
    keep(unit.get(f"/authorization-requests/{created['id']}"))
    scanned = keep(client.post("/api/v1/me/scans", headers=zhang, json={"qr_text": created["qr_text"]})).json
    keep(client.post(f"/api/v1/me/authorization-requests/{scanned['id']}/approve", headers=zhang, json={"receipt_keys": [key]}))
    keep(unit.get(f"/authorization-requests/{created['id']}"))
    lock = keep(unit.lock(key)).json
    keep(unit.post(f"/receipts/{key}/renew", json={"lock_token": lock["lock_token"]}))
    keep(unit.feedback(key, lock["lock_token"], amount="100.00"))
    for path in ("/receipts", f"/receipts/{key}", "/me", "/webhook/deliveries"):
        keep(unit.get(path))
    for path in ("/api/v1/me", "/api/v1/me/receipts", f"/api/v1/me/receipts/{key}", "/api/v1/me/authorizations",
                 "/api/v1/me/claims", f"/api/v1/me/receipts/{key}/access-log", "/api/v1/me/notifications", "/api/v1/me/chat-bindings"):
        keep(client.get(path, headers=zhang))
    keep(client.post("/api/v1/me/stream-tickets", headers=zhang))
    for path in ("/api/v1/admin/stats", "/api/v1/admin/jobs", f"/api/v1/admin/units/{unit.id}", f"/api/v1/admin/issuers/{hospital.issuer_id}",
                 f"/api/v1/admin/issuers/{hospital.issuer_id}/keys"):
        keep(client.get(path, headers=operator.headers))
    seen, wrong = 0, []
    for path, body in answers:
        for name, value in _timestamps(body):
            seen += 1
            if not TIMESTAMP.match(value):
                wrong.append(f"{path}: {name}={value}")
    assert seen > 40 and wrong == [], wrong
