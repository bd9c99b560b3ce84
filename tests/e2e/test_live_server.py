"""The browser tests' live server knows which requests are still inside the app, so a test's
cleanup waits for them (`drain`) instead of emptying the database under them."""
import threading
import time
import urllib.request

from tests.e2e.browser_support import LiveServer


def _stand_in(release: threading.Event, mimetype="text/plain"):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", mimetype)])

        def body():
            yield b"first "
            release.wait(5)
            yield b"last"

        return body()

    return app


def _request_in_background(url):
    answers = []
    thread = threading.Thread(target=lambda: answers.append(urllib.request.urlopen(url, timeout=10).read()), daemon=True)
    thread.start()
    return thread, answers


def _wait_for(condition, timeout=5):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_drain_waits_for_a_request_in_flight(app, app_ctx):
    release = threading.Event()
    with LiveServer(app, bot=_stand_in(release)) as server:
        thread, answers = _request_in_background(server.url + "/bot/slow")
        _wait_for(lambda: server.in_flight == 1)
        threading.Timer(0.5, release.set).start()
        started = time.monotonic()
        server.drain()
        assert server.in_flight == 0 and time.monotonic() - started >= 0.45
        thread.join(5)
    assert answers == [b"first last"]


def test_an_open_event_stream_does_not_hold_the_drain(app, app_ctx):
    release = threading.Event()
    with LiveServer(app, bot=_stand_in(release, "text/event-stream")) as server:
        thread, _ = _request_in_background(server.url + "/bot/stream")
        time.sleep(0.3)
        started = time.monotonic()
        server.drain()
        assert time.monotonic() - started < 2
        release.set()
        thread.join(5)
