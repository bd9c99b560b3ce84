"""Checks a real answer against what the OpenAPI document says of it: the documented answer for
its status (or `default`), its content type, and the JSON body against that schema."""
from openapi_schema_validator import OAS30Validator, oas30_format_checker


def _resolve(spec, node):
    while isinstance(node, dict) and "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = spec["components"][kind][name]
    return node


def mismatches(spec, method: str, path: str, response) -> list[str]:
    """What in `response` (a Flask test response) the spec does not admit; [] when all is documented."""
    where = f"{method.upper()} {path} → {response.status_code}"
    responses = spec["paths"][path][method.lower()]["responses"]
    documented = _resolve(spec, responses.get(str(response.status_code)) or responses.get("default"))
    if documented is None:
        return [f"{where}: status not documented"]
    content = documented.get("content", {})
    if response.mimetype not in content:
        return [f"{where}: answered {response.mimetype}, documented {sorted(content)}"]
    schema = content[response.mimetype].get("schema")
    if schema is None:
        return []
    validator = OAS30Validator({"allOf": [schema], "components": spec["components"]}, format_checker=oas30_format_checker)
    return [f"{where}: {'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in validator.iter_errors(response.get_json())]
