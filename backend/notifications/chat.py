"""Chat accounts bound to a citizen (the bot's users) and their push quotas.

WeChat-style one-time subscriptions: each time the user agrees to be notified, the
channel allows one more message; the bot reports that as a grant, and each push spends
one (`ChatPush` records sent / no_quota / failed per event and binding).
"""
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backend.common.errors import Conflict, NotFound, ValidationFailed
from backend.extensions import db
from backend.notifications.models import ChatBinding, ChatPush
from backend.common.validators import iso_timestamp

MAX_QUOTA = 1000


def _view(b: ChatBinding) -> dict:
    return {"id": b.id, "channel": b.channel, "external_id": b.external_id, "quota_remaining": b.quota_remaining,
            "active": b.active, "created_at": iso_timestamp(b.created_at)}


def bind(citizen, channel: str, external_id: str) -> dict:
    binding = ChatBinding(citizen_id=citizen.id, payer_hash=citizen.id_hash, channel=channel, external_id=external_id, quota_remaining=0)
    db.session.add(binding)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = db.session.scalar(select(ChatBinding).where(ChatBinding.channel == channel, ChatBinding.external_id == external_id))
        if existing is None or existing.citizen_id != citizen.id:
            raise Conflict("This chat account is bound to another person.", code="chat_account_taken", title="该聊天账号已绑定其他用户")
        existing.active = True
        db.session.commit()
        return _view(existing)
    return _view(binding)


def _own(citizen, binding_id: str) -> ChatBinding:
    binding = db.session.get(ChatBinding, binding_id)
    if binding is None or binding.citizen_id != citizen.id:
        raise NotFound("No such chat binding.", code="chat_binding_not_found", title="未找到该绑定")
    return binding


def grant(citizen, binding_id: str, messages: int) -> dict:
    if not 1 <= messages <= 100:
        raise ValidationFailed("messages must be between 1 and 100.", code="invalid_quota")
    binding = _own(citizen, binding_id)
    binding.quota_remaining = min(binding.quota_remaining + messages, MAX_QUOTA)
    db.session.commit()
    return _view(binding)


def unbind(citizen, binding_id: str) -> None:
    binding = _own(citizen, binding_id)
    binding.active = False
    db.session.commit()


def list_bindings(citizen) -> dict:
    rows = db.session.scalars(select(ChatBinding).where(ChatBinding.citizen_id == citizen.id).order_by(ChatBinding.created_at)).all()
    pushes = {}
    if rows:
        for p in db.session.scalars(select(ChatPush).where(ChatPush.binding_id.in_([b.id for b in rows])).order_by(ChatPush.id.desc()).limit(200)):
            pushes.setdefault(p.binding_id, []).append({"event_id": p.event_id, "status": p.status, "detail": p.detail,
                                                        "at": iso_timestamp(p.created_at)})
    return {"items": [{**_view(b), "recent_pushes": pushes.get(b.id, [])[:20]} for b in rows]}
