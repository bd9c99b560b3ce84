"""Chat bindings: codes, redemption, delegated tokens, unbinding from either side."""
import hmac
import logging
import secrets
from datetime import timedelta
from hashlib import sha256

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from backend.chat.models import ChatBindingCode
from backend.citizens import services as citizens
from backend.citizens.models import Citizen
from backend.common import attempts
from backend.common.errors import Conflict, DomainError, NotFound
from backend.common.models import as_utc, utcnow
from backend.extensions import db
from backend.chat.models import ChatBinding

log = logging.getLogger(__name__)
CODE_TTL = timedelta(minutes=5)
MAX_QUOTA = 1000  # one-time-subscription messages a binding may hold
CHANNELS = ("wechat", "haiyiban", "web", "console")


class InvalidBindingCode(DomainError):
    status = 400
    code = "invalid_binding_code"
    title = "绑定码无效或已过期，请在小程序中重新获取"


def _code_hash(code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"chat-binding-code:" + code.encode(), sha256).hexdigest()


def issue_code(citizen: Citizen) -> dict:
    """A fresh 6-digit code for this citizen (earlier unused ones stop working)."""
    attempts.ensure_allowed("binding-code", "BINDING_CODES_PER_CITIZEN", "citizen", citizen.id)
    attempts.record_failure("binding-code", "BINDING_CODES_PER_CITIZEN", "citizen", citizen.id)  # counts issues, not failures
    now = utcnow()
    db.session.execute(update(ChatBindingCode).where(ChatBindingCode.citizen_id == citizen.id, ChatBindingCode.used_at.is_(None))
                       .values(used_at=now).execution_options(synchronize_session=False))
    for _ in range(5):
        code = f"{secrets.randbelow(10**6):06d}"
        db.session.add(ChatBindingCode(code_hash=_code_hash(code), citizen_id=citizen.id, expires_at=now + CODE_TTL))
        try:
            db.session.commit()
            return {"code": code, "expires_at": (now + CODE_TTL).isoformat()}
        except IntegrityError:  # the same code is live for someone else: draw again
            db.session.rollback()
    raise Conflict("Could not draw a free code; try again.", code="try_again")


def redeem(bot_client, code: str, channel: str, external_id: str) -> dict:
    """The bot redeems a code a chat user sent it. Failures are limited per chat account
    first; the bot's own count is only a backstop far above what one account can reach
    (docs/decisions/failed-attempt-limits.md). The lookup is by keyed hash (no comparison
    leaks timing)."""
    account = f"{channel}:{external_id}"
    attempts.ensure_allowed("binding", "BINDING_FAILURES_PER_ACCOUNT", "account", account)
    attempts.ensure_allowed("binding", "BINDING_FAILURES_PER_BOT", "bot", bot_client.id)
    now = utcnow()
    digest = _code_hash(code if isinstance(code, str) else "")
    spent = db.session.execute(
        update(ChatBindingCode).where(ChatBindingCode.code_hash == digest, ChatBindingCode.used_at.is_(None),
                                      ChatBindingCode.expires_at > now)
        .values(used_at=now).execution_options(synchronize_session=False)).rowcount
    row = db.session.scalar(select(ChatBindingCode).where(ChatBindingCode.code_hash == digest)) if spent == 1 else None
    if row is None:
        db.session.rollback()
        attempts.record_failure("binding", "BINDING_FAILURES_PER_ACCOUNT", "account", account)
        if not attempts.record_failure("binding", "BINDING_FAILURES_PER_BOT", "bot", bot_client.id):
            log.warning("binding backstop reached: this bot's chat accounts sent too many wrong codes; binding paused",
                        extra={"client_id": bot_client.client_id})
        log.info("binding code refused", extra={"channel": channel})
        raise InvalidBindingCode("Unknown, used or expired binding code.")
    citizen = db.session.get(Citizen, row.citizen_id)
    binding = db.session.scalar(select(ChatBinding).where(ChatBinding.channel == channel, ChatBinding.external_id == external_id))
    if binding is not None and binding.active and binding.bot_client_id != bot_client.id:
        db.session.rollback()
        raise Conflict("This chat account is bound through another bot; unbind it there first.",
                       code="chat_account_bound_elsewhere", title="该聊天账号已通过其他机器人绑定")
    if binding is not None and binding.citizen_id != citizen.id:
        if binding.active:
            db.session.rollback()
            raise Conflict("This chat account is bound to another person; unbind it there first.", code="chat_account_taken",
                           title="该聊天账号已绑定其他用户")
        binding.citizen_id, binding.payer_hash = citizen.id, citizen.id_hash
    if binding is None:
        binding = ChatBinding(citizen_id=citizen.id, payer_hash=citizen.id_hash, channel=channel, external_id=external_id,
                              quota_remaining=0, active=True)
        db.session.add(binding)
    else:
        citizens.revoke_session(binding.id)  # a re-binding ends the earlier delegated tokens
    binding.active, binding.bot_client_id = True, bot_client.id
    db.session.flush()
    pair = citizens.issue_delegated_pair(citizen, binding.id)
    db.session.commit()
    return {"binding_id": binding.id, **pair, "citizen": {"name": citizen.name}}


def _bot_binding(bot_client, binding_id: str) -> ChatBinding:
    """A binding this bot made; another bot's is not found (it cannot tell that it exists)."""
    binding = db.session.get(ChatBinding, binding_id)
    if binding is None or binding.channel not in CHANNELS or binding.bot_client_id != bot_client.id:
        raise NotFound("No such chat binding.", code="chat_binding_not_found", title="未找到该绑定")
    return binding


def unbind(binding: ChatBinding) -> None:
    binding.active = False
    citizens.revoke_session(binding.id)
    db.session.commit()


def unbind_by_bot(bot_client, binding_id: str) -> None:
    unbind(_bot_binding(bot_client, binding_id))


def grant_by_bot(bot_client, binding_id: str, messages: int) -> dict:
    binding = _bot_binding(bot_client, binding_id)
    if not binding.active:
        raise Conflict("This binding has ended.", code="binding_ended", title="该绑定已解除")
    binding.quota_remaining = min(binding.quota_remaining + messages, MAX_QUOTA)
    db.session.commit()
    return {"id": binding.id, "quota_remaining": binding.quota_remaining}


def unbind_all_of(citizen: Citizen) -> int:
    rows = db.session.scalars(select(ChatBinding).where(ChatBinding.citizen_id == citizen.id, ChatBinding.active.is_(True))).all()
    for binding in rows:
        binding.active = False
        citizens.revoke_session(binding.id)
    return len(rows)


def code_expired(row: ChatBindingCode) -> bool:
    return as_utc(row.expires_at) <= utcnow()
