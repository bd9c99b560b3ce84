"""The citizen's inbox and live stream (SSE), on the embedded default (polling the inbox)."""
import threading

import pytest

from tests.support import ZHANG_SAN_ID, UnitClient, citizen_login, receipt_key


@pytest.fixture()
def zhang(client):
    return citizen_login(client, "zhangsan")


def read_frames(response, count, timeout=10.0):
    """Reads SSE frames from a streamed test response, in a thread, with a deadline."""
    frames, buffer = [], ""
    done = threading.Event()

    def pump():
        nonlocal buffer
        for chunk in response.response:
            buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
            while "\n\n" in buffer:
                frame, buffer = buffer.split("\n\n", 1)
                if frame.startswith("id:"):
                    frames.append(dict(line.split(": ", 1) for line in frame.splitlines()))
                if len(frames) >= count:
                    done.set()
                    return

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    done.wait(timeout)
    return frames


def test_inbox_lists_unread_and_marks_read(client, operator, zhang):
    hospital = operator.register_hospital()
    hospital.issue(payer_id=ZHANG_SAN_ID)
    hospital.issue(payer_id="460100198505052345")  # someone else's
    inbox = client.get("/api/v1/me/notifications", headers=zhang).json
    assert inbox["unread_count"] == 1 and len(inbox["items"]) == 1
    note = inbox["items"][0]
    assert note["type"] == "receipt.issued" and note["title"] == "收到一张新的电子票据" and not note["read"]
    marked = client.post("/api/v1/me/notifications/read", headers=zhang, json={"ids": [note["id"]]}).json
    assert marked == {"marked": 1, "unread_count": 0}
    assert client.post("/api/v1/me/notifications/read", headers=zhang, json={}).json["code"] == "nothing_to_mark"
    assert client.get("/api/v1/me/notifications", headers=bearer_missing()).status_code == 401


def bearer_missing():
    return {}


def test_stream_replays_from_last_event_id_and_pushes_new_events(app, client, operator, zhang):
    hospital = operator.register_hospital()
    unit = UnitClient.open(operator)
    _, first = hospital.issue(payer_id=ZHANG_SAN_ID)
    _, second = hospital.issue(payer_id=ZHANG_SAN_ID)
    items = client.get("/api/v1/me/notifications", headers=zhang).json["items"]
    oldest = items[-1]["id"]
    app.config["STREAM_MAX_SECONDS"] = 5
    try:
        stream = app.test_client().get("/api/v1/me/stream", headers={**zhang, "Last-Event-ID": oldest}, buffered=False)
        assert stream.status_code == 200 and stream.mimetype == "text/event-stream"
        frames = []
        collector = threading.Thread(target=lambda: frames.extend(read_frames(stream, 2)), daemon=True)
        collector.start()
        unit.lock_with_proof(first)  # a new event while the stream is open
        collector.join(10)
    finally:
        app.config["STREAM_MAX_SECONDS"] = 3600
    assert [f["event"] for f in frames] == ["receipt.issued", "receipt.locked"]
    assert frames[0]["id"] == items[0]["id"]  # the one after Last-Event-ID
    assert receipt_key(first) in frames[1]["data"]


def test_stream_needs_a_citizen_token_or_ticket_never_a_token_in_the_url(client):
    assert client.get("/api/v1/me/stream").status_code == 401
    headers = citizen_login(client, "zhangsan")
    access_token = headers["Authorization"].split()[1]
    refused = client.get(f"/api/v1/me/stream?access_token={access_token}")
    assert refused.status_code == 401 and refused.json["code"] == "missing_token"
    assert client.get("/api/v1/me/stream?ticket=garbage").json["code"] == "invalid_stream_ticket"


def test_the_web_process_holds_at_most_web_streams_max_streams(app, client):
    """A stream sent to the web app (not the stream server) takes one of its threads: past
    the limit it is refused with 503 and Retry-After, and a closed stream frees its slot."""
    from backend.notifications.stream import WEB_STREAM_SLOTS

    headers = citizen_login(client, "zhangsan")
    app.config.update(WEB_STREAMS_MAX=WEB_STREAM_SLOTS.open + 1, STREAM_MAX_SECONDS=5)  # streams of earlier tests may still be open
    try:
        first = app.test_client().get("/api/v1/me/stream", headers=headers, buffered=False)
        assert first.status_code == 200
        ticket = client.post("/api/v1/me/stream-tickets", headers=headers).json["ticket"]
        refused = app.test_client().get(f"/api/v1/me/stream?ticket={ticket}", buffered=False)
        assert refused.status_code == 503 and refused.json["code"] == "stream_capacity" and refused.headers["Retry-After"] == "5"
        first.close()
        again = app.test_client().get(f"/api/v1/me/stream?ticket={ticket}", buffered=False)  # the refused one did not spend it
        assert again.status_code == 200
        again.close()
    finally:
        app.config.update(WEB_STREAMS_MAX=0, STREAM_MAX_SECONDS=3600)
