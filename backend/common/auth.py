"""Bearer-token guards for routes: citizens and API clients (operators, units, issuers)."""
from functools import wraps

from flask import g, request

from backend.common import row_cache, sessions, tokens
from backend.common.errors import Forbidden, Unauthorized
from backend.common.models import as_utc
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
    session_id = claims.get("sid")
    if session_id and sessions.is_revoked(session_id):
        raise Unauthorized("This session was signed out.", code="session_revoked", title="登录已失效，请重新登录")
    if claims.get("scope") is not None and not _scope_allows(claims["scope"]):
        raise Forbidden("A chat binding's token cannot do this; use the mini-app.", code="insufficient_scope",
                        title="请在票夹小程序中操作")
    citizen = db.session.get(Citizen, claims["sub"])
    if citizen is None:
        raise Unauthorized("The account behind this token no longer exists.", code="invalid_token")
    g.citizen = citizen
    g.citizen_session_id = session_id
    g.citizen_scope = claims.get("scope")
    return citizen


# What a chat binding's delegated token may do (DESIGN §9): read receipts, claims and
# notifications, revoke authorizations. Approving one, scanning, binding codes: mini-app only.
CHAT_SCOPE = {
    ("GET", "/api/v1/me"), ("GET", "/api/v1/me/receipts"), ("GET", "/api/v1/me/receipts/<key>"),
    ("GET", "/api/v1/me/claims"), ("GET", "/api/v1/me/authorizations"), ("DELETE", "/api/v1/me/authorizations/<authorization_id>"),
    ("GET", "/api/v1/me/notifications"), ("POST", "/api/v1/me/notifications/read"), ("GET", "/api/v1/me/chat-bindings"),
}


def _scope_allows(scope: str) -> bool:
    rule = request.url_rule.rule if request.url_rule is not None else ""
    return scope == "chat" and (request.method, rule) in CHAT_SCOPE


def authenticate_stream_ticket(ticket: str):
    """The citizen of a stream ticket (POST /me/stream-tickets), spending it: single use,
    unexpired, and its sign-in session not revoked."""
    from sqlalchemy import update

    from backend.citizens.models import Citizen, StreamTicket
    from backend.common.crypto import sha256_hex
    from backend.common.models import utcnow

    now = utcnow()
    digest = sha256_hex(ticket or "")
    spent = db.session.execute(
        update(StreamTicket).where(StreamTicket.ticket_hash == digest, StreamTicket.used_at.is_(None), StreamTicket.expires_at > now)
        .values(used_at=now).execution_options(synchronize_session=False)).rowcount
    row = db.session.get(StreamTicket, digest) if spent == 1 else None
    db.session.commit()
    if row is None or (row.session_id and sessions.is_revoked(row.session_id)):
        raise Unauthorized("Unknown, used or expired stream ticket.", code="invalid_stream_ticket", title="连接凭证无效，请重新连接")
    citizen = db.session.get(Citizen, row.citizen_id)
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
            client = row_cache.get(ApiClient, claims["sub"])
            if client is None or not client.active:
                raise Unauthorized("This client is unknown or disabled.", code="invalid_client")
            if client.rotated_at is not None and claims["iat"] < int(as_utc(client.rotated_at).timestamp()):
                raise Unauthorized("This token was issued before the client's secret was rotated.", code="token_revoked",
                                   title="凭证已更换，请重新获取访问令牌")
            if roles and client.role not in roles:
                raise Forbidden(f"This endpoint needs a {' or '.join(roles)} client.", code="wrong_role")
            g.client = client
            return view(*args, **kwargs)

        return wrapper

    return decorator
