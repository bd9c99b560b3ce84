"""The OpenAPI spec is valid and covers the contract; the migrations match the models."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from openapi_spec_validator import validate

from backend.extensions import db

CONTRACT_PATHS = {
    ("post", "/api/v1/issuers/{issuer_id}/webhook"),
    ("post", "/api/v1/oauth/token"),
    ("post", "/api/v1/admin/issuers"),
    ("post", "/api/v1/admin/units"),
    ("post", "/api/v1/admin/units/{unit_id}/freeze"),
    ("post", "/api/v1/admin/units/{unit_id}/unfreeze"),
    ("post", "/api/v1/admin/units/{unit_id}/cancel"),
    ("get", "/api/v1/unit/receipts"),
    ("get", "/api/v1/unit/receipts/{key}"),
    ("post", "/api/v1/unit/receipts/{key}/lock"),
    ("post", "/api/v1/unit/receipts/{key}/unlock"),
    ("post", "/api/v1/unit/receipts/{key}/renew"),
    ("post", "/api/v1/unit/receipts/{key}/feedback"),
    ("put", "/api/v1/unit/webhook"),
    ("get", "/api/v1/unit/webhook/deliveries"),
    ("post", "/api/v1/unit/webhook/deliveries/{delivery_id}/redeliver"),
    ("get", "/api/v1/me/notifications"),
    ("post", "/api/v1/me/notifications/read"),
    ("get", "/api/v1/me/stream"),
    ("post", "/api/v1/auth/citizen"),
    ("post", "/api/v1/auth/refresh"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/me/receipts"),
    ("get", "/api/v1/me/receipts/{key}"),
    ("post", "/api/v1/me/scans"),
    ("post", "/api/v1/me/authorization-requests/{request_id}/approve"),
    ("post", "/api/v1/me/authorization-requests/{request_id}/decline"),
    ("get", "/api/v1/me/authorizations"),
    ("delete", "/api/v1/me/authorizations/{authorization_id}"),
    ("get", "/api/v1/me/claims"),
    ("post", "/api/v1/unit/authorization-requests"),
    ("get", "/api/v1/unit/authorization-requests/{request_id}"),
    ("post", "/api/v1/verify"),
}


def test_openapi_spec_is_valid_and_covers_the_contract(client):
    spec = client.get("/api/v1/openapi.json").json
    validate(spec)
    present = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    assert CONTRACT_PATHS <= present, CONTRACT_PATHS - present
    assert "ReceiptWire" in spec["components"]["schemas"]


def test_migrations_match_the_models(app_ctx):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == [], diff
