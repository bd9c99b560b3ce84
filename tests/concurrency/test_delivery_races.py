"""Real threads on PostgreSQL: one event delivered by several jobs at once reaches each
channel once."""
import threading

from sqlalchemy import func, select, update

from backend.extensions import db
from backend.notifications.jobs import deliver_event
from backend.events.models import OutboxEvent
from backend.chat.models import ChatPush
from backend.notifications.models import Notification
from backend.notifications.push import set_push_adapter
from tests.conftest import postgres_only
from tests.support import ZHANG_SAN_ID, Bot, citizen_login

pytestmark = postgres_only()


class SlowRecorder:
    def __init__(self):
        self.sent = []
        self.lock = threading.Lock()

    def send(self, channel, external_id, message, quota_remaining):
        from backend.notifications.push import PushResult

        threading.Event().wait(0.2)  # widen the window a double send would need
        with self.lock:
            self.sent.append(message["id"])
        return PushResult("sent", spent_quota=True)


def test_concurrent_runs_of_one_delivery_push_once(app, client, operator, monkeypatch):
    zhang = citizen_login(client, "zhangsan")
    bot = Bot(client)
    binding = bot.bind(zhang, "wx-race")
    client.post(f"/api/v1/chat/bindings/{binding['binding_id']}/subscriptions", headers=bot.headers, json={"messages": 5})
    recorder = SlowRecorder()
    monkeypatch.setitem(app.extensions, "piaojia_push_adapter", None)
    set_push_adapter(app, recorder)
    hospital = operator.register_hospital()
    hospital.issue(payer_id=ZHANG_SAN_ID)
    event_id = db.session.scalar(select(OutboxEvent.id))
    # As if the job had died after storing the inbox entry but before the chat push, then
    # been picked up by 5 workers at once.
    db.session.execute(db.delete(ChatPush))
    db.session.execute(update(OutboxEvent).values(dispatched_at=None))
    db.session.commit()
    recorder.sent.clear()
    barrier = threading.Barrier(5)

    def run():
        with app.app_context():
            barrier.wait()
            deliver_event(event_id)

    threads = [threading.Thread(target=run) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    db.session.expire_all()
    assert recorder.sent == [event_id]
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 1
    assert db.session.scalar(select(func.count()).select_from(ChatPush)) == 1
