"""Chat accounts bound to a citizen (the bot's users) and their push quotas.

WeChat-style one-time subscriptions: each time the user agrees to be notified, the
channel allows one more message; the bot reports that as a grant, and each push spends
one (`ChatPush` records sent / no_quota / failed per event and binding).
"""
from sqlalchemy import select

from backend.extensions import db
from backend.chat.models import ChatBinding, ChatPush
from backend.common.validators import iso_timestamp



def _view(b: ChatBinding) -> dict:
    return {"id": b.id, "channel": b.channel, "external_id": b.external_id, "quota_remaining": b.quota_remaining,
            "active": b.active, "created_at": iso_timestamp(b.created_at)}


def list_bindings(citizen) -> dict:
    rows = db.session.scalars(select(ChatBinding).where(ChatBinding.citizen_id == citizen.id).order_by(ChatBinding.created_at)).all()
    pushes = {}
    if rows:
        for p in db.session.scalars(select(ChatPush).where(ChatPush.binding_id.in_([b.id for b in rows])).order_by(ChatPush.id.desc()).limit(200)):
            pushes.setdefault(p.binding_id, []).append({"event_id": p.event_id, "status": p.status, "detail": p.detail,
                                                        "at": iso_timestamp(p.created_at)})
    return {"items": [{**_view(b), "recent_pushes": pushes.get(b.id, [])[:20]} for b in rows]}
