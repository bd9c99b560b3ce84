"""Property-based fuzzing of every documented operation (schemathesis strategies from our
own OpenAPI spec, driven by hypothesis): whatever is sent, as a citizen, a unit or an
operator, the answer is never a server error."""
import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.support import UnitClient, citizen_login

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
