import threading

from tests.conftest import postgres_only

pytestmark = postgres_only()


def test_one_refresh_token_spent_by_ten_threads_at_once_wins_once(app, client):
    assertion = client.post("/api/v1/demo/assertion", json={"citizen": "zhangsan"}).json["assertion"]
    refresh_token = client.post("/api/v1/auth/citizen", json={"assertion": assertion}).json["refresh_token"]
    barrier = threading.Barrier(10)
    statuses = []

    def spend():
        c = app.test_client()
        barrier.wait()
        statuses.append(c.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token}).status_code)

    threads = [threading.Thread(target=spend) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(statuses) == [200] + [401] * 9
