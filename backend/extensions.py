"""Extensions, created unbound and attached in create_app (init_app style)."""
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from marshmallow import INCLUDE, Schema, fields
from sqlalchemy import MetaData

# Deterministic constraint names keep Alembic migrations portable across SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

class ProblemSchema(Schema):
    """RFC 9457 problem details, as every error of this API is answered."""

    class Meta:
        unknown = INCLUDE  # some problems add fields (errors, retry_after, …)

    type = fields.String(metadata={"example": "urn:piaojia:problem:receipt_locked"})
    title = fields.String(metadata={"description": "Chinese, for people", "example": "票据已被其他单位锁定"})
    status = fields.Integer(metadata={"example": 409})
    detail = fields.String(metadata={"description": "this occurrence, in English"})
    code = fields.String(metadata={"description": "stable machine-readable code", "example": "receipt_locked"})
    request_id = fields.String()
    errors = fields.Dict(metadata={"description": "validation messages by field (422)"})
    retry_after = fields.Integer(metadata={"description": "seconds (429; also the Retry-After header)"})


class PiaojiaApi(Api):
    """flask-smorest, with errors documented as they are answered: application/problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _openapi_json(self):
        """The spec, with an example for every JSON answer (derived from its schema)."""
        import json as _json

        from flask import current_app

        from backend.common.openapi_examples import add_examples

        spec = add_examples(_json.loads(_json.dumps(self.spec.to_dict())))
        return current_app.response_class(_json.dumps(spec, ensure_ascii=False, indent=2), mimetype="application/json")

    def _register_responses(self):
        saved = self.DEFAULT_RESPONSE_CONTENT_TYPE
        self.DEFAULT_RESPONSE_CONTENT_TYPE = "application/problem+json"
        try:
            super()._register_responses()
        finally:
            self.DEFAULT_RESPONSE_CONTENT_TYPE = saved


db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate()
api = PiaojiaApi()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
