"""Citizens' accounts: login with a 海易办 assertion, rotating refresh tokens, profile."""
import secrets
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from backend.citizens.identity import LEEWAY_SECONDS, InvalidAssertion, verify_assertion
from backend.citizens.models import Citizen, RefreshToken, StreamTicket, UsedAssertion
from backend.common import sessions, tokens
from backend.common.crypto import mask_id_number, pii, sha256_hex
from backend.common.errors import Unauthorized
from backend.common.models import as_utc, new_uuid, utcnow
from backend.events.dispatch import after_commit
from backend.extensions import db

ID_CONTEXT = "citizen-id-number"
SUBSCRIBE = "backend.federation.inbound.subscribe"
PHONE_CONTEXT = "citizen-phone"


class InvalidRefreshToken(Unauthorized):
    code = "invalid_refresh_token"
    title = "登录已失效，请重新登录"


def _issue_pair(citizen: Citizen, family_id: str, scope: str | None = None) -> dict:
    cfg = current_app.config
    refresh = "rt_" + secrets.token_urlsafe(32)
    db.session.add(RefreshToken(citizen_id=citizen.id, family_id=family_id, token_hash=sha256_hex(refresh), scope=scope,
                                expires_at=utcnow() + timedelta(seconds=cfg["REFRESH_TOKEN_TTL_SECONDS"])))
    claims = {"sid": family_id, **({"scope": scope} if scope else {})}
    access = tokens.issue(citizen.id, tokens.AUDIENCE_CITIZEN, cfg["ACCESS_TOKEN_TTL_SECONDS"], **claims)
    pair = {"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_in": cfg["ACCESS_TOKEN_TTL_SECONDS"]}
    return {**pair, "scope": scope} if scope else pair


def login(assertion: str) -> dict:
    """Opens the personal digital account on first login; updates it afterwards."""
    identity, claims = verify_assertion(assertion)
    db.session.add(UsedAssertion(jti_hash=sha256_hex(f"{claims['iss']}\n{claims['jti']}"),
                                 expires_at=datetime.fromtimestamp(claims["exp"] + LEEWAY_SECONDS, timezone.utc)))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise InvalidAssertion("This assertion has already been used to sign in.", code="assertion_reused")
    cipher = pii()
    citizen = db.session.scalar(select(Citizen).where(Citizen.sub == identity.sub))
    if citizen is None:
        citizen = Citizen(id=new_uuid(), sub=identity.sub)
        db.session.add(citizen)
    citizen.name = identity.name
    citizen.id_type = identity.id_type
    citizen.id_hash = cipher.lookup_hash(identity.id_type, identity.id_number)
    citizen.id_enc = cipher.encrypt(identity.id_number, ID_CONTEXT)
    citizen.phone_enc = cipher.encrypt(identity.phone, PHONE_CONTEXT) if identity.phone else None
    citizen.last_login_at = utcnow()
    try:
        db.session.flush()
    except IntegrityError:  # the same person's first two logins at once
        db.session.rollback()
        return login(assertion)
    pair = _issue_pair(citizen, family_id=new_uuid())
    if current_app.config.get("HUB_URL") and current_app.config.get("NODE_ROLE", "node") == "node":
        # Federation: the hub learns the account; receipts issued elsewhere are pulled in.
        after_commit(SUBSCRIBE, citizen.id, queue="default", job_id=f"subscribe-{citizen.id}-{new_uuid()[:8]}")
    db.session.commit()
    return pair


def refresh(refresh_token: str) -> dict:
    """Single use: spends the token and returns a new pair. Reusing a spent token means it
    leaked, so the whole family is revoked."""
    digest = sha256_hex(refresh_token or "")
    token = db.session.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest))
    now = utcnow()
    if token is None:
        raise InvalidRefreshToken("Unknown refresh token.")
    if token.revoked_at is not None:
        raise InvalidRefreshToken("This session was signed out.")
    if as_utc(token.expires_at) <= now:
        raise InvalidRefreshToken("The refresh token has expired.", code="refresh_token_expired")
    spent = db.session.execute(
        update(RefreshToken).where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None)).values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if spent != 1:
        _revoke_family(token.family_id, now)
        db.session.commit()
        sessions.announce_revoked(token.family_id)
        current_app.logger.warning("refresh token reuse: family revoked", extra={"family_id": token.family_id})
        raise InvalidRefreshToken("This refresh token was already used; every session of this login is now signed out.",
                                  code="refresh_token_reused")
    citizen = db.session.get(Citizen, token.citizen_id)
    pair = _issue_pair(citizen, token.family_id, token.scope)
    db.session.commit()
    return pair


def _revoke_family(family_id: str, now):
    db.session.execute(update(RefreshToken).where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
                       .values(revoked_at=now).execution_options(synchronize_session=False))


def logout(refresh_token: str, everywhere: bool = False) -> None:
    """Signs out this session; `everywhere`: every session of the citizen and every chat
    binding (their delegated tokens end at once)."""
    token = db.session.scalar(select(RefreshToken).where(RefreshToken.token_hash == sha256_hex(refresh_token or "")))
    if token is None:
        return
    families = {token.family_id}
    if everywhere and token.scope is None:
        from backend.chat.services import unbind_all_of

        families |= set(db.session.scalars(select(RefreshToken.family_id).where(RefreshToken.citizen_id == token.citizen_id,
                                                                                RefreshToken.revoked_at.is_(None))))
        unbind_all_of(db.session.get(Citizen, token.citizen_id))
    now = utcnow()
    for family in families:
        _revoke_family(family, now)
    db.session.commit()
    for family in families:
        sessions.announce_revoked(family)


def sessions_of(citizen: Citizen, current: str | None) -> dict:
    """The citizen's signed-in sessions (sign-ins of the mini-app, chat bindings' delegated
    sessions): when each began and was last refreshed, which one is asking."""
    from sqlalchemy import func

    rows = db.session.execute(
        select(RefreshToken.family_id, RefreshToken.scope, func.min(RefreshToken.created_at), func.max(RefreshToken.created_at),
               func.max(RefreshToken.expires_at))
        .where(RefreshToken.citizen_id == citizen.id, RefreshToken.revoked_at.is_(None))
        .group_by(RefreshToken.family_id, RefreshToken.scope).order_by(func.max(RefreshToken.created_at).desc())).all()
    now = utcnow()
    return {"items": [{"id": family, "kind": "chat" if scope == "chat" else "app", "started_at": as_utc(started).isoformat(),
                       "last_active_at": as_utc(last).isoformat(), "current": family == current}
                      for family, scope, started, last, expires in rows if as_utc(expires) > now]}


def end_session(citizen: Citizen, session_id: str) -> None:
    """Signs one session out (a chat binding's session: that binding ends too)."""
    from backend.chat.models import ChatBinding

    owned = db.session.scalar(select(RefreshToken.id).where(RefreshToken.citizen_id == citizen.id, RefreshToken.family_id == session_id).limit(1))
    if owned is None:
        from backend.common.errors import NotFound

        raise NotFound("No such session.", code="session_not_found", title="未找到该登录")
    binding = db.session.get(ChatBinding, session_id)
    if binding is not None and binding.citizen_id == citizen.id:
        binding.active = False
    revoke_session(session_id)
    db.session.commit()


def issue_delegated_pair(citizen: Citizen, binding_id: str) -> dict:
    """A chat binding's token: the citizen's, limited to the chat scope (read receipts, claims
    and notifications; revoke authorizations), its session the binding. Caller commits."""
    return _issue_pair(citizen, binding_id, scope="chat")


def revoke_session(family_id: str) -> None:
    """Ends a session (a sign-in or a chat binding) at once. Caller commits; the revocation is
    announced to Redis right away (a failed commit would only end that session early)."""
    _revoke_family(family_id, utcnow())
    sessions.announce_revoked(family_id)


def issue_stream_ticket(citizen: Citizen, session_id: str | None) -> dict:
    ticket = "st_" + secrets.token_urlsafe(24)
    expires_at = utcnow() + timedelta(seconds=current_app.config["STREAM_TICKET_TTL_SECONDS"])
    db.session.add(StreamTicket(ticket_hash=sha256_hex(ticket), citizen_id=citizen.id, session_id=session_id, expires_at=expires_at))
    db.session.commit()
    return {"ticket": ticket, "expires_at": expires_at.isoformat()}


def purge_expired_credentials() -> dict:
    """Forgets assertions and stream tickets that can no longer be used anyway."""
    now = utcnow()
    assertions = db.session.execute(delete(UsedAssertion).where(UsedAssertion.expires_at < now)).rowcount
    tickets = db.session.execute(delete(StreamTicket).where(StreamTicket.expires_at < now)).rowcount
    db.session.commit()
    return {"used_assertions": assertions, "stream_tickets": tickets}


def id_number(citizen: Citizen) -> str:
    return pii().decrypt(citizen.id_enc, ID_CONTEXT)


def profile(citizen: Citizen) -> dict:
    """The owner's own view: the ID number unmasked (DESIGN §7)."""
    phone = pii().decrypt(citizen.phone_enc, PHONE_CONTEXT) if citizen.phone_enc else None
    number = id_number(citizen)
    return {"id": citizen.id, "name": citizen.name, "id_type": citizen.id_type, "id_number": number,
            "id_number_masked": mask_id_number(number), "phone": phone, "created_at": as_utc(citizen.created_at).isoformat(),
            "last_login_at": as_utc(citizen.last_login_at).isoformat()}
