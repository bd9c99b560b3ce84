"""Examples for every answer in the OpenAPI spec, derived from the schemas themselves: each
field's own `example` where it has one, else a value of its type and format. So an answer's
example always has the shape the schema documents (tests/test_spec_completeness.py)."""

BY_FORMAT = {"date-time": "2025-11-20T10:15:00+08:00", "date": "2025-11-20", "binary": "…", "uuid": "5f0c1f7e-0000-4000-8000-000000000000"}
BY_NAME = {"key": "46060125-0000012345", "receipt_key": "46060125-0000012345", "code": "46060125", "number": "0000012345",
           "check_code": "7Kq9Zx", "province": "46", "credit_code": "12460200428201234X", "display_status": "正常",
           "total_amount": "356.80", "remaining_amount": "156.80", "reimbursed_amount": "200.00", "amount": "200.00",
           "title": "海南省医疗门诊收费票据（电子）", "name": "三亚中心医院", "status": "active"}


def example_of(spec: dict, schema: dict, name: str = "", depth: int = 0):
    if depth > 16 or not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        target = schema["$ref"].rsplit("/", 1)[1]
        return example_of(spec, spec["components"]["schemas"].get(target, {}), name, depth + 1)
    if "example" in schema:
        return schema["example"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {prop: example_of(spec, sub, prop, depth + 1) for prop, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [example_of(spec, schema.get("items") or {}, name, depth + 1)]
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if kind == "string":
        return BY_FORMAT.get(schema.get("format")) or BY_NAME.get(name) or "…"
    return None


def add_examples(spec: dict) -> dict:
    """Every JSON answer of every operation gets an example (unless it has one)."""
    for methods in spec.get("paths", {}).values():
        for method, operation in methods.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for response in operation["responses"].values():
                for media_type, content in (response.get("content") or {}).items():
                    if "json" in media_type and "schema" in content and "example" not in content and "examples" not in content:
                        content["example"] = example_of(spec, content["schema"])
    return spec
