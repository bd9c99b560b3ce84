"""Property-based fuzzing of every documented operation (schemathesis strategies from our
own OpenAPI spec, driven by hypothesis): whatever is sent, as a citizen, a unit or an
operator, the answer is never a server error."""
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.support import UnitClient, citizen_login

@schemathesis.serializer("application/jose")
def _compact_jws(ctx, value):
    """Federation messages are compact JWS text: send whatever string was generated."""
    return str(value).encode("utf-8", "surrogatepass")


FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 12))  # raise it for a longer hunt
SKIP = {"/api/v1/me/stream"}  # an endless stream; covered by its own tests


def _role(path: str) -> str:
    if path.startswith("/api/v1/unit"):
        return "unit"
    if path.startswith(("/api/v1/admin", "/api/v1/oauth", "/api/v1/issuers")):
        return "operator"
    return "citizen"


def test_no_operation_answers_a_server_error(app_ctx, client, operator):
    operator.register_hospital().issue()
    identities = {"citizen": citizen_login(client, "zhangsan"), "unit": UnitClient.open(operator).headers, "operator": operator.headers}
    api = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app_ctx)
    failures, operations = [], 0
    for result in api.get_all_operations():
        operation = result.ok()
        if operation.path in SKIP:
            continue
        operations += 1

        # Valid and invalid requests alike (negative mode breaks the schema on purpose).
        @given(case=st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)))
        @settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            response = case.call(headers={**(case.headers or {}), **identities[_role(case.path)]})
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}")

        fuzz()
    assert operations > 40
    assert failures == []


HOSTILE_VALUES = [None, 0, -1, 10**400, 1e308, 1.5, True, [], [[[]]], {}, {"a": {"b": {}}}, "", "x" * 20000,
                  "\ud800", "\udfff", "a\ud83d", "\u202e", "０１２３", "46060125-0000012345", "2025-13-45", "99999999999999999999.99"]
HUGE_NUMBER_BODY = '{"limit": 1' + "0" * 5000 + "}"


def _schema(spec, node):
    if isinstance(node, dict) and "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        return spec["components"]["schemas"][name]
    return node or {}


def _hostile_bodies(spec, schema, depth=0):
    """One body per (field, hostile value), for every field, nested objects one level down."""
    schema = _schema(spec, schema)
    for name, prop in (schema.get("properties") or {}).items():
        for value in HOSTILE_VALUES:
            yield {name: value}
        prop = _schema(spec, prop)
        if depth == 0 and prop.get("type") == "object" and prop.get("properties"):
            for inner in _hostile_bodies(spec, prop, depth + 1):
                yield {name: inner}
        if depth == 0 and prop.get("type") == "array":
            for inner in _hostile_bodies(spec, prop.get("items"), depth + 1):
                yield {name: [inner]}


def _fill_path(path: str) -> str:
    import re

    return re.sub(r"\{[^}]+\}", lambda m: "46060125-0000012345" if m.group(0) == "{key}" else "5f0c1f7e-0000-4000-8000-000000000000", path)


def test_hostile_shapes_in_every_field_of_every_schema_never_answer_5xx(app_ctx, client, operator):
    """Nesting, lone surrogates, huge numbers and wrong types, field by field, for every
    documented JSON body and query parameter (deterministic, complementing the fuzzing)."""
    import json as _json
    from urllib.parse import quote

    hospital = operator.register_hospital()
    hospital.issue()
    identities = {"citizen": citizen_login(client, "zhangsan"), "unit": UnitClient.open(operator).headers, "operator": operator.headers}
    spec = client.get("/api/v1/openapi.json").json
    failures, sent = [], 0
    deep = "[" * 5000 + "]" * 5000
    for path, methods in spec["paths"].items():
        if path in SKIP:
            continue
        url = _fill_path(path)
        for method, operation in methods.items():
            if method not in ("get", "post", "put", "delete", "patch"):
                continue
            headers = identities[_role(path)]
            if path.endswith("/webhook") and path.startswith("/api/v1/issuers"):
                url = hospital.url
            bodies = []
            content = (operation.get("requestBody") or {}).get("content", {})
            if "application/json" in content:
                bodies = [_json.dumps(b) for b in _hostile_bodies(spec, content["application/json"]["schema"])]
                bodies += [deep, HUGE_NUMBER_BODY, '"\\ud800"', "[]", "null", "{", "\xff"]
            for body in bodies:
                extra = hospital.headers(body) if url == hospital.url else {}
                resp = client.open(url, method=method.upper(), data=body.encode("utf-8", "surrogatepass"),
                                   headers={**headers, **extra, "content-type": "application/json"})
                sent += 1
                if resp.status_code >= 500:
                    failures.append(f"{method.upper()} {path} {body[:80]!r} -> {resp.status_code}")
            for param in [p for p in operation.get("parameters", []) if p.get("in") == "query"]:
                for value in ["\ud800", "9" * 400, "-1", "[]", "{}", "x" * 5000, "1e400"]:
                    raw = quote(value.encode("utf-8", "surrogatepass"), safe="")  # a lone surrogate as CESU-8 bytes
                    resp = client.open(url, method=method.upper(), query_string=f"{param['name']}={raw}", headers=headers)
                    sent += 1
                    if resp.status_code >= 500:
                        failures.append(f"{method.upper()} {path}?{param['name']}={value[:20]!r} -> {resp.status_code}")
    assert sent > 1000
    assert failures == [], "\n".join(failures[:40])


@pytest.mark.parametrize("claim", ["sub", "jti", "name", "id_type", "id_number", "phone", "iat", "exp", "iss", "aud"])
def test_every_identity_claim_of_every_wrong_type_is_a_401(app, client, claim):
    import json as _json

    import jwt

    from tests.api.test_citizen_auth import claims, demo_key, demo_kid

    kid = demo_kid(client)
    for value in [None, 0, 10**40, 1.5, True, [], ["a"], {}, {"a": 1}, "", "x" * 300, "名" * 200]:
        payload = claims(**{claim: value}) if value is not None else {**claims(), claim: None}
        # Signed as raw JWS bytes: PyJWT's encoder itself refuses some of these shapes.
        token = jwt.api_jws.PyJWS().encode(_json.dumps(payload).encode(), demo_key(app), algorithm="ES256", headers={"kid": kid})
        resp = client.post("/api/v1/auth/citizen", json={"assertion": token})
        if claim == "phone" and value in (None, ""):
            continue  # optional
        assert resp.status_code == 401, (claim, value, resp.status_code, resp.get_data(as_text=True)[:200])
