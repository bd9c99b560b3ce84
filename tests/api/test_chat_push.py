"""Chat push channel: bindings, one-time-subscription quotas, exactly one push per event."""
from sqlalchemy import select

from backend.extensions import db
from backend.notifications.jobs import deliver_event
from backend.events.models import OutboxEvent
from backend.chat.models import ChatPush
from backend.notifications.push import set_push_adapter
from tests.support import ZHANG_SAN_ID, Bot, citizen_login


class RecordingAdapter:
    def __init__(self, accept=True):
        self.sent = []
        self.accept = accept

    def send(self, channel, external_id, message, quota_remaining):
        """Like the bot outside the 48-hour window: a subscription message while quota lasts."""
        from backend.notifications.push import PushResult

        if quota_remaining <= 0:
            return PushResult("no_quota", detail="订阅消息次数已用完")
        self.sent.append((channel, external_id, message["type"], message["title"]))
        return PushResult("sent", spent_quota=True) if self.accept else PushResult("failed", detail="channel refused")


def test_pushes_spend_quota_and_are_recorded_once(app, client, operator, monkeypatch):
    adapter = RecordingAdapter()
    monkeypatch.setitem(app.extensions, "piaojia_push_adapter", None)  # restored after the test
    set_push_adapter(app, adapter)
    zhang = citizen_login(client, "zhangsan")
    bot = Bot(client)
    bound = bot.bind(zhang, "wx-openid-1")
    assert client.get("/api/v1/me/chat-bindings", headers=zhang).json["items"][0]["quota_remaining"] == 0
    granted = client.post(f"/api/v1/chat/bindings/{bound['binding_id']}/subscriptions", headers=bot.headers, json={"messages": 1})
    assert granted.json["quota_remaining"] == 1
    hospital = operator.register_hospital()
    hospital.issue(payer_id=ZHANG_SAN_ID)
    hospital.issue(payer_id=ZHANG_SAN_ID)
    assert [(c, e, t) for c, e, t, _ in adapter.sent] == [("wechat", "wx-openid-1", "receipt.issued")]
    assert adapter.sent[0][3] == "收到一张新的电子票据"
    statuses = [p.status for p in db.session.scalars(select(ChatPush).order_by(ChatPush.id))]
    assert statuses == ["sent", "no_quota"]
    for event in db.session.scalars(select(OutboxEvent)):
        deliver_event(event.id)  # a job run twice pushes nothing more
    assert len(adapter.sent) == 1
    listed = client.get("/api/v1/me/chat-bindings", headers=zhang).json["items"][0]
    assert listed["quota_remaining"] == 0 and [p["status"] for p in listed["recent_pushes"]] == ["no_quota", "sent"]


def test_a_chat_account_belongs_to_one_person(client):
    zhang = citizen_login(client, "zhangsan")
    li = citizen_login(client, "lisi")
    bot = Bot(client)
    bot.bind(zhang, "wx-2")
    code = client.post("/api/v1/me/chat-binding-codes", headers=li).json["code"]
    taken = bot.redeem(code, "wx-2")
    assert taken.status_code == 409 and taken.json["code"] == "chat_account_taken"
    assert bot.redeem("123456", "x", channel="sms").status_code == 422
    # The self-declared binding is gone: a citizen cannot bind an id they merely claim.
    assert client.post("/api/v1/me/chat-bindings", headers=zhang, json={"channel": "wechat", "external_id": "wx-3"}).status_code == 405
