"""Bearer-token guards for routes: citizens and API clients (operators, units, issuers)."""
from functools import wraps

from flask import g, request

from backend.common import tokens
from backend.common.errors import Forbidden, Unauthorized
from backend.extensions import db


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("A Bearer access token is required.", code="missing_token")
    return token.strip()


def authenticate_citizen(token: str):
    from backend.citizens.models import Citizen

    claims = tokens.verify(token, tokens.AUDIENCE_CITIZEN)
    citizen = db.session.get(Citizen, claims["sub"])
    if citizen is None:
        raise Unauthorized("The account behind this token no longer exists.", code="invalid_token")
    g.citizen = citizen
    return citizen


def citizen_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        authenticate_citizen(bearer_token())
        return view(*args, **kwargs)

    return wrapper


def client_required(*roles):
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            from backend.clients.models import ApiClient

            claims = tokens.verify(bearer_token(), tokens.AUDIENCE_CLIENT)
            client = db.session.get(ApiClient, claims["sub"])
            if client is None or not client.active:
                raise Unauthorized("This client is unknown or disabled.", code="invalid_client")
            if roles and client.role not in roles:
                raise Forbidden(f"This endpoint needs a {' or '.join(roles)} client.", code="wrong_role")
            g.client = client
            return view(*args, **kwargs)

        return wrapper

    return decorator
