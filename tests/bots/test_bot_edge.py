"""The bot's HTTP edge, without a node behind it: every body capped while it is read (chunked
or not), JSON bodies that are not objects refused as problems, and plain-mode WeChat callbacks
whose signed (timestamp, nonce) serves one body only, remembered in the bot's own store."""
import io
import socket
import threading
import time

import pytest
from flask import Flask
from werkzeug.serving import make_server

from bots.app import create_app as create_bot
from bots.config import BotConfig
from bots.store import MemoryStore, RedisStore
from tests.bots.test_wechat_protocol import APP_ID, TOKEN, fresh_nonce, ref_sign, text_xml

PUSH_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SETTINGS = {"PIAOJIA_API_URL": "http://127.0.0.1:9", "BOT_PUSH_SECRET": PUSH_SECRET, "WECHAT_TOKEN": TOKEN,
            "WECHAT_APP_ID": APP_ID}
BEARER = {"Authorization": "Bearer not-checked-before-the-body"}
ENDPOINTS = ["/wechat", "/chat", "/push"]
MAX_BODY_BYTES = 64 * 1024  # BOT_MAX_BODY_BYTES by default


def bot_app(store=None, **settings):
    return create_bot(BotConfig({**SETTINGS, **settings}), store=store or MemoryStore())


class Huge(io.RawIOBase):
    """A chunked upload of 8 MB (as big as a test may make it; the probe sent 300 MB), counting
    what was read."""

    def __init__(self, size=8 * 1024 * 1024):
        self.size, self.read_bytes = size, 0

    def readable(self):
        return True

    def seekable(self):  # werkzeug's test client measures a stream it is given; this one claims no length
        return True

    def tell(self):
        return 0

    def seek(self, *args):
        return 0

    def readinto(self, buffer):
        size = min(len(buffer), self.size - self.read_bytes)
        buffer[:size] = b"[" * size
        self.read_bytes += size
        return size


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_chunked_body_without_length_is_cut_off_at_the_limit(path):
    """No Content-Length, a stream the server marks as terminated (chunked, as the
    development server, granian and gunicorn pass it): refused once the limit is passed,
    having read no more than the limit and a byte."""
    body = Huge()
    resp = bot_app().test_client().post(path, input_stream=body, headers={**BEARER, "Transfer-Encoding": "chunked"},
                                        environ_overrides={"wsgi.input_terminated": True})
    assert resp.status_code == 413
    assert body.read_bytes <= MAX_BODY_BYTES + 1
    if path == "/wechat":
        assert resp.content_type.startswith("text/plain")
    else:
        assert resp.content_type == "application/problem+json"
        assert (resp.json["status"], resp.json["code"], resp.json["title"]) == (413, "payload_too_large", "提交的内容过大")


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_declared_length_over_the_limit_is_refused_before_reading(path):
    body = io.BytesIO(b"x" * (MAX_BODY_BYTES + 1))
    resp = bot_app().test_client().post(path, input_stream=body, headers=BEARER)
    assert resp.status_code == 413 and body.tell() == 0


def test_a_body_of_exactly_the_limit_is_read(monkeypatch):
    padded = b'{"message": ""' + b" " * (MAX_BODY_BYTES - 15) + b"}"
    assert len(padded) == MAX_BODY_BYTES
    resp = bot_app().test_client().post("/chat", data=padded, headers={**BEARER, "Content-Type": "application/json"})
    assert resp.status_code == 422 and resp.json["code"] == "invalid_message"  # read and parsed, then judged


class Counting:
    """WSGI middleware: counts the body bytes the app took from the server's input stream."""

    def __init__(self, app):
        self.app, self.read_bytes = app, 0

    def __call__(self, environ, start_response):
        source, outer = environ["wsgi.input"], self

        class Counted(io.RawIOBase):
            def readable(self):
                return True

            def readinto(self, buffer):
                data = source.read(len(buffer))
                buffer[:len(data)] = data
                outer.read_bytes += len(data)
                return len(data)

        environ["wsgi.input"] = io.BufferedReader(Counted(), buffer_size=1)
        return self.app(environ, start_response)


def test_a_chunked_upload_over_a_real_socket_gets_413_without_being_buffered():
    """The probe's shape: a chunked POST of many megabytes to /bot/chat of the embedded
    default (the bot mounted into the web process, under the development server that
    `flask run` starts). The bot takes no more than the limit from the stream and answers
    413; the server discards the rest of the upload (werkzeug drains in bounded reads so
    that the client sees the answer)."""
    from backend.bot_mount import mount

    web = Flask("web")
    mount(web, **SETTINGS)
    counted = Counting(web.wsgi_app)
    server = make_server("127.0.0.1", 0, counted, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sock = socket.create_connection(("127.0.0.1", server.server_port), timeout=10)
        sock.sendall(b"POST /bot/chat HTTP/1.1\r\nHost: bot\r\nAuthorization: Bearer x\r\n"
                     b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk, sent = b"[" * 65536, 0
        try:
            while sent < 16 * 1024 * 1024:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except OSError:
            pass  # the server answered and closed while we were still sending
        answer = b""
        sock.settimeout(10)
        try:
            while b"\r\n\r\n" not in answer:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except OSError:
            pass
        sock.close()
    finally:
        server.shutdown()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert counted.read_bytes <= MAX_BODY_BYTES + 1


@pytest.mark.parametrize("body", [b"[]", b'["message"]', '"帮助"'.encode(), b"42", b"null", b"not json", b"[" * 5000])
def test_chat_answers_a_body_that_is_not_a_json_object_with_a_problem(body):
    resp = bot_app().test_client().post("/chat", data=body, headers={**BEARER, "Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.content_type == "application/problem+json"
    assert (resp.json["code"], resp.json["title"]) == ("invalid_body", "请求内容须为 JSON 对象")


def test_chat_with_a_json_array_through_the_embedded_mount():
    from backend.bot_mount import mount

    web = Flask("web")
    mount(web, **SETTINGS)
    resp = web.test_client().post("/bot/chat", json=[{"message": "帮助"}], headers=BEARER)
    assert resp.status_code == 400 and resp.json["code"] == "invalid_body"


def test_a_signed_push_that_is_not_an_object_is_a_problem():
    from datetime import datetime, timezone

    from standardwebhooks import Webhook

    body, now = "[1, 2]", datetime.now(timezone.utc)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(PUSH_SECRET).sign("msg_1", now, body), "content-type": "application/json"}
    resp = bot_app().test_client().post("/push", data=body, headers=headers)
    assert resp.status_code == 400 and resp.json["code"] == "invalid_body"


# --- plain-mode callbacks: one body per signed (timestamp, nonce) ---------------------------------

def plain_query(ts=None, nonce=None):
    ts, nonce = str(ts or int(time.time())), nonce or fresh_nonce()
    return {"signature": ref_sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}


def replayed_with_other_bodies(bots, count=20):
    """One captured query string: the genuine message to the first bot, then `count` forged
    bodies (other senders, binding guesses) to each bot in turn."""
    query = plain_query()
    statuses = [bots[0].test_client().post("/wechat", query_string=query,
                                           data=text_xml("帮助", msg_id="1", create_time=int(time.time())).encode()).status_code]
    for n in range(count):
        forged = text_xml(f"绑定 {n:06d}", msg_id=str(100 + n), from_user=f"o-forged-{n}", create_time=int(time.time()))
        statuses.append(bots[n % len(bots)].test_client().post("/wechat", query_string=query, data=forged.encode()).status_code)
    return statuses


def test_a_replayed_query_string_is_refused_with_any_other_body():
    bot = bot_app()
    assert replayed_with_other_bodies([bot]) == [200] + [403] * 20
    again = bot.test_client().post("/wechat", query_string=plain_query(),
                                   data=text_xml("帮助", msg_id="2", create_time=int(time.time())).encode())
    assert again.status_code == 200  # a fresh signed request is answered as ever


def test_stale_timestamps_are_refused():
    bot = bot_app()
    for ts in (int(time.time()) - 400, int(time.time()) + 400):
        resp = bot.test_client().post("/wechat", query_string=plain_query(ts=ts), data=text_xml().encode())
        assert resp.status_code == 403


def test_bot_processes_sharing_redis_share_the_nonces(redis_url):
    """Several bot processes behind one callback URL (BOT_REDIS_URL): a query string used
    at one is refused at the others."""
    bots = [bot_app(store=RedisStore(redis_url)), bot_app(store=RedisStore(redis_url))]
    assert replayed_with_other_bodies(bots, count=6) == [200] + [403] * 6
