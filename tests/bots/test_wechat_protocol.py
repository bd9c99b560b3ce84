"""The WeChat official-account adapter (bots/wechat) against an independent implementation of
the published message-encryption scheme (WXBizMsgCrypt) written here with `cryptography` —
not wechatpy — and against a loopback stand-in of the WeChat API for the sender."""
import base64
import hashlib
import json
import os
import struct
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bots.wechat import _wechatpy_adapter as adapter
from bots.wechat.crypto import WeChatCodec
from bots.wechat.dedup import DedupStore, SeenStore, StoreDedup
from bots.wechat.errors import (
    DecryptError,
    HostileXML,
    InvalidAppId,
    InvalidSignature,
    MalformedMessage,
    MessageTooLarge,
    SendFailed,
    StaleTimestamp,
)
from bots.store import MemoryStore
from bots.wechat.handler import handle, nonce_ttl
from bots.wechat.messages import (
    MAX_TEXT_BYTES,
    Incoming,
    dedup_key,
    parse_incoming,
    text_reply,
)
from bots.wechat.sender import (
    DEFAULT_MENU,
    NotAllowed,
    Sent,
    WeChatSender,
    default_menu,
    validate_menu,
)

TOKEN = "PiaojiaCallbackToken"
APP_ID = "wx5823bf96d3bd56c7"
OTHER_APP_ID = "wx0000000000000000"
KEY43 = base64.b64encode(bytes(range(7, 39))).decode().rstrip("=")
SECRET = "app-secret-do-not-leak-0123456789"
NOW = 1_700_000_000
OPENID = "oPiaojia_user_openid_0001"
GH = "gh_7f083739789a"


# ---------------------------------------------------------------------------------------------
# Reference WXBizMsgCrypt, from the published spec: AES-256-CBC, key = b64decode(key43 + "="),
# IV = key[:16], PKCS#7 to 32-byte blocks; plaintext = 16 random bytes + 4-byte big-endian
# length + xml + app_id; signature = sha1 of the sorted [token, timestamp, nonce(, encrypt)].
# ---------------------------------------------------------------------------------------------

def ref_sign(*parts) -> str:
    return hashlib.sha1("".join(sorted(str(p) for p in parts)).encode("utf-8")).hexdigest()


def _ref_key() -> bytes:
    key = base64.b64decode(KEY43 + "=")
    assert len(key) == 32
    return key


def ref_encrypt(xml: str, app_id: str = APP_ID, prefix: bytes | None = None) -> str:
    key = _ref_key()
    body = xml.encode("utf-8")
    plain = (prefix or os.urandom(16)) + struct.pack(">I", len(body)) + body + app_id.encode("utf-8")
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode("ascii")


def ref_decrypt(ciphertext: str) -> tuple[str, str]:
    """(xml, app_id) inside `ciphertext`, checking the padding strictly."""
    key = _ref_key()
    raw = base64.b64decode(ciphertext)
    assert len(raw) % 32 == 0
    dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = dec.update(raw) + dec.finalize()
    pad = plain[-1]
    assert 1 <= pad <= 32 and plain[-pad:] == bytes([pad]) * pad, "bad PKCS#7 padding (32-byte blocks)"
    plain = plain[:-pad]
    (length,) = struct.unpack(">I", plain[16:20])
    return plain[20:20 + length].decode("utf-8"), plain[20 + length:].decode("utf-8")


def fresh_nonce() -> str:
    return os.urandom(5).hex()  # WeChat sends a new nonce with every push


def plain_args(ts=NOW, nonce=None, token=TOKEN) -> dict:
    nonce = nonce or fresh_nonce()
    return {"signature": ref_sign(token, ts, nonce), "timestamp": str(ts), "nonce": nonce, "openid": OPENID}


def safe_request(xml: str, ts=NOW, nonce=None, app_id=APP_ID) -> tuple[bytes, dict]:
    """A safe-mode push as WeChat sends it: envelope body + query."""
    nonce = nonce or fresh_nonce()
    encrypt = ref_encrypt(xml, app_id)
    body = f"<xml><ToUserName><![CDATA[{GH}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    args = {
        "signature": ref_sign(TOKEN, ts, nonce), "timestamp": str(ts), "nonce": nonce, "openid": OPENID,
        "encrypt_type": "aes", "msg_signature": ref_sign(TOKEN, ts, nonce, encrypt),
    }
    return body.encode("utf-8"), args


def fields_of(xml: str) -> dict:
    return {child.tag: (child.text or "") for child in ET.fromstring(xml)}


def open_safe_reply(body: str, nonce: str) -> dict:
    """Checks the envelope's signature with the reference and returns the decrypted reply."""
    env = fields_of(body)
    assert set(env) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert env["Nonce"] == nonce
    assert env["MsgSignature"] == ref_sign(TOKEN, env["TimeStamp"], env["Nonce"], env["Encrypt"])
    xml, app_id = ref_decrypt(env["Encrypt"])
    assert app_id == APP_ID
    return fields_of(xml)


def text_xml(content="我的票据", msg_id="23000000000000001", create_time=NOW, from_user=OPENID) -> str:
    return (f"<xml><ToUserName><![CDATA[{GH}]]></ToUserName><FromUserName><![CDATA[{from_user}]]></FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>")


def event_xml(event, key=None, ticket=None, create_time=NOW, from_user=OPENID) -> str:
    extra = ""
    if key is not None:
        extra += f"<EventKey><![CDATA[{key}]]></EventKey>"
    if ticket is not None:
        extra += f"<Ticket><![CDATA[{ticket}]]></Ticket>"
    return (f"<xml><ToUserName><![CDATA[{GH}]]></ToUserName><FromUserName><![CDATA[{from_user}]]></FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{event}]]></Event>{extra}</xml>")


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
    '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>'
    f'<xml><ToUserName>{GH}</ToUserName><FromUserName>{OPENID}</FromUserName><CreateTime>{NOW}</CreateTime>'
    '<MsgType>text</MsgType><Content>&lol4;</Content><MsgId>1</MsgId></xml>'
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    f'<xml><ToUserName>{GH}</ToUserName><FromUserName>{OPENID}</FromUserName><CreateTime>{NOW}</CreateTime>'
    '<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>2</MsgId></xml>'
)
BARE_DTD = f'<!DOCTYPE xml SYSTEM "http://127.0.0.1:1/x.dtd"><xml><ToUserName>{GH}</ToUserName></xml>'


class Responder:
    """The `respond` callable: records what it was given, answers `answer` (None = no reply)."""

    def __init__(self, answer="收到", fail_times=0):
        self.calls: list[Incoming] = []
        self.answer = answer
        self.fail_times = fail_times

    def __call__(self, incoming: Incoming):
        self.calls.append(incoming)
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("backend unavailable")
        return self.answer(incoming) if callable(self.answer) else self.answer


@pytest.fixture
def plain():
    return WeChatCodec(TOKEN, APP_ID, clock=lambda: NOW)


@pytest.fixture
def safe():
    return WeChatCodec(TOKEN, APP_ID, KEY43, clock=lambda: NOW)


@pytest.fixture
def seen():
    return DedupStore()


# --------------------------------------- the wechatpy adapter --------------------------------

def test_reference_roundtrip_and_padding_to_32_bytes():
    for size in range(70):
        xml = "x" * size
        assert ref_decrypt(ref_encrypt(xml)) == (xml, APP_ID)
    # plaintext of exactly 64 bytes gets a whole 32-byte block of padding
    xml = "y" * (64 - 16 - 4 - len(APP_ID))
    assert len(base64.b64decode(ref_encrypt(xml))) == 96


def test_adapter_sign_matches_reference():
    assert adapter.sign(TOKEN, "1700000000", "abc") == ref_sign(TOKEN, "1700000000", "abc")
    assert adapter.sign(TOKEN, "1", "z", "ENC+/=") == ref_sign("ENC+/=", "z", "1", TOKEN)
    assert adapter.signature_matches(ref_sign("a", "b"), ref_sign("a", "b").upper())
    assert not adapter.signature_matches(ref_sign("a", "b"), ref_sign("a", "c"))
    assert not adapter.signature_matches(ref_sign("a", "b"), None)
    assert not adapter.signature_matches(ref_sign("a", "b"), "签名")


def test_adapter_cipher_interoperates_with_the_reference_both_ways():
    cipher = adapter.MessageCipher(KEY43, APP_ID)
    for xml in ["<xml/>", text_xml("含中文与 emoji 🧾"), "z" * (64 - 20 - len(APP_ID)), "q" * 3000]:
        assert cipher.decrypt(ref_encrypt(xml)) == xml
        out = cipher.encrypt(xml)
        assert ref_decrypt(out) == (xml, APP_ID)  # strict PKCS#7 to 32-byte blocks
    # the 16-byte prefix is random: the same xml never encrypts the same way twice
    assert len({cipher.encrypt("<xml/>") for _ in range(5)}) == 5


def test_adapter_refuses_other_app_and_garbage():
    cipher = adapter.MessageCipher(KEY43, APP_ID)
    with pytest.raises(InvalidAppId):
        cipher.decrypt(ref_encrypt("<xml/>", OTHER_APP_ID))
    for garbage in ["not base64!", base64.b64encode(b"short").decode(), base64.b64encode(os.urandom(64)).decode(), ""]:
        with pytest.raises((DecryptError, InvalidAppId)):
            cipher.decrypt(garbage)
    other_key = adapter.MessageCipher(base64.b64encode(bytes(32)).decode().rstrip("="), APP_ID)
    with pytest.raises((DecryptError, InvalidAppId)):
        other_key.decrypt(ref_encrypt("<xml>hello</xml>"))


def test_adapter_rejects_bad_keys():
    for bad in ["short", KEY43 + "A", KEY43[:-1] + "!"]:
        with pytest.raises(ValueError):
            adapter.MessageCipher(bad, APP_ID)
    with pytest.raises(ValueError):
        WeChatCodec(TOKEN, APP_ID, "short")


# --------------------------------------- URL verification ------------------------------------

def test_url_verification_plain(plain, seen):
    args = plain_args() | {"echostr": "4712834012"}
    assert handle(plain, b"", args, Responder(), seen, method="GET") == (200, "4712834012", "text/plain; charset=utf-8")
    assert plain.verify_url(args["signature"], args["timestamp"], args["nonce"], "4712834012") == "4712834012"
    # without `method`, echostr and an empty body mean verification
    assert handle(plain, b"", args, Responder(), seen)[:2] == (200, "4712834012")
    bad = args | {"signature": ref_sign("wrong-token", NOW, args["nonce"])}
    assert handle(plain, b"", bad, Responder(), seen, method="GET")[0] == 403
    stale = plain_args(ts=NOW - 3600) | {"echostr": "1"}
    assert handle(plain, b"", stale, Responder(), seen, method="GET")[0] == 403


def test_url_verification_safe(safe, seen):
    # An official account in safe mode still sends echostr in clear with `signature`…
    args = plain_args() | {"echostr": "998877"}
    assert handle(safe, b"", args, Responder(), seen, method="GET")[:2] == (200, "998877")
    # …and an encrypted echostr with msg_signature is decrypted.
    encrypted = ref_encrypt("echo-5566")
    args = {"timestamp": str(NOW), "nonce": "n9", "echostr": encrypted,
            "msg_signature": ref_sign(TOKEN, NOW, "n9", encrypted)}
    assert handle(safe, b"", args, Responder(), seen, method="GET")[:2] == (200, "echo-5566")
    tampered = args | {"msg_signature": ref_sign(TOKEN, NOW, "n9", encrypted + "x")}
    assert handle(safe, b"", tampered, Responder(), seen, method="GET")[0] == 403
    other = ref_encrypt("echo", OTHER_APP_ID)
    args = {"timestamp": str(NOW), "nonce": "n9", "echostr": other, "msg_signature": ref_sign(TOKEN, NOW, "n9", other)}
    assert handle(safe, b"", args, Responder(), seen, method="GET")[0] == 403


# --------------------------------------- messages ----------------------------------------------

def test_text_message_plain(plain, seen):
    respond = Responder(lambda m: f"你说：{m.content}")
    status, body, ctype = handle(plain, text_xml("查票据").encode(), plain_args(), respond, seen)
    assert status == 200 and ctype.startswith("application/xml")
    reply = fields_of(body)
    assert reply == {"ToUserName": OPENID, "FromUserName": GH, "CreateTime": str(NOW), "MsgType": "text",
                     "Content": "你说：查票据"}
    (incoming,) = respond.calls
    assert (incoming.msg_type, incoming.content, incoming.msg_id, incoming.from_user, incoming.to_user) == (
        "text", "查票据", "23000000000000001", OPENID, GH)
    assert incoming.create_time == NOW and incoming.event is None and incoming.scene is None


def test_text_message_safe(safe, seen):
    body, args = safe_request(text_xml("报销进度"), nonce="safe-nonce")
    respond = Responder(lambda m: f"好的：{m.content}]]>结束")
    status, out, ctype = handle(safe, body, args, respond, seen)
    assert status == 200 and ctype.startswith("application/xml")
    reply = open_safe_reply(out, "safe-nonce")
    assert reply["ToUserName"] == OPENID and reply["FromUserName"] == GH and reply["MsgType"] == "text"
    assert reply["Content"] == "好的：报销进度]]>结束"
    assert respond.calls[0].content == "报销进度"


def test_no_reply_answers_success(plain, safe, seen):
    assert handle(plain, text_xml(msg_id="1").encode(), plain_args(), Responder(None), seen)[:2] == (200, "success")
    body, args = safe_request(text_xml(msg_id="2"))
    assert handle(safe, body, args, Responder(None), seen)[:2] == (200, "success")
    assert handle(plain, text_xml(msg_id="3").encode(), plain_args(), Responder(""), seen)[:2] == (200, "success")


@pytest.mark.parametrize("mode", ["plain", "safe"])
def test_events(mode, plain, safe):
    codec = plain if mode == "plain" else safe

    def push(xml, respond):
        if mode == "plain":
            return handle(codec, xml.encode(), plain_args(), respond, DedupStore())
        body, args = safe_request(xml, nonce="ev")
        return handle(codec, body, args, respond, DedupStore())

    def reply_of(out):
        return fields_of(out) if mode == "plain" else open_safe_reply(out, "ev")

    # subscribe without a scene
    respond = Responder("欢迎关注票夹")
    status, out, _ = push(event_xml("subscribe"), respond)
    assert status == 200 and reply_of(out)["Content"] == "欢迎关注票夹"
    assert respond.calls[0].event == "subscribe" and respond.calls[0].scene is None

    # subscribe through a QR with a scene = binding by QR
    respond = Responder(lambda m: f"绑定码 {m.scene}")
    status, out, _ = push(event_xml("subscribe", key="qrscene_BIND-7f3a", ticket="gQH47joAAAAAAAAAASxodHRw"), respond)
    assert reply_of(out)["Content"] == "绑定码 BIND-7f3a"
    incoming = respond.calls[0]
    assert (incoming.event, incoming.scene, incoming.ticket) == ("subscribe", "BIND-7f3a", "gQH47joAAAAAAAAAASxodHRw")

    # SCAN by a follower: EventKey is the scene itself
    respond = Responder(lambda m: f"扫码 {m.scene}")
    status, out, _ = push(event_xml("SCAN", key="BIND-9c1d", ticket="t"), respond)
    assert reply_of(out)["Content"] == "扫码 BIND-9c1d"
    assert respond.calls[0].event == "scan" and respond.calls[0].scene == "BIND-9c1d"

    # unsubscribe: respond is told (the bot unbinds) but nothing can be delivered
    respond = Responder("再见")
    assert push(event_xml("unsubscribe"), respond)[:2] == (200, "success")
    assert respond.calls[0].event == "unsubscribe"

    # CLICK on a menu item: the key
    respond = Responder(lambda m: f"菜单 {m.event_key}")
    status, out, _ = push(event_xml("CLICK", key="MY_RECEIPTS"), respond)
    assert reply_of(out)["Content"] == "菜单 MY_RECEIPTS"
    assert respond.calls[0].event == "click" and respond.calls[0].scene is None


def test_unknown_message_type_is_passed_on(plain, seen):
    xml = (f"<xml><ToUserName>{GH}</ToUserName><FromUserName>{OPENID}</FromUserName><CreateTime>{NOW}</CreateTime>"
           "<MsgType><![CDATA[shortvideo]]></MsgType><MediaId>m1</MediaId><MsgId>777</MsgId>"
           "<Nested><A>1</A></Nested></xml>")
    respond = Responder(lambda m: "暂不支持这类消息，请发送文字" if m.msg_type not in ("text", "event") else None)
    status, body, _ = handle(plain, xml.encode(), plain_args(), respond, seen)
    assert status == 200 and fields_of(body)["Content"] == "暂不支持这类消息，请发送文字"
    incoming = respond.calls[0]
    assert incoming.msg_type == "shortvideo" and incoming.content is None and incoming.fields["MediaId"] == "m1"


# --------------------------------------- refusals -----------------------------------------------

def test_bad_signature_plain(plain, seen):
    respond = Responder()
    args = plain_args()
    args["signature"] = ref_sign("not-the-token", NOW, args["nonce"])
    status, body, _ = handle(plain, text_xml().encode(), args, respond, seen)
    assert (status, body) == (403, "forbidden") and not respond.calls
    no_sig = {k: v for k, v in plain_args().items() if k != "signature"}
    assert handle(plain, text_xml().encode(), no_sig, respond, seen)[0] == 403
    assert not respond.calls


def test_bad_msg_signature_safe(safe, seen):
    respond = Responder()
    body, args = safe_request(text_xml())
    tampered = body.replace(b"<Encrypt><![CDATA[", b"<Encrypt><![CDATA[AAAA")
    assert handle(safe, tampered, args, respond, seen)[0] == 403
    assert handle(safe, body, args | {"msg_signature": ref_sign("x", NOW, args["nonce"])}, respond, seen)[0] == 403
    assert not respond.calls


def test_stale_timestamp(plain, safe, seen):
    respond = Responder()
    for ts in (NOW - 301, NOW + 301, "yesterday"):
        assert handle(plain, text_xml().encode(), plain_args(ts=ts), respond, seen)[0] == 403
    body, args = safe_request(text_xml(), ts=NOW - 3600)
    assert handle(safe, body, args, respond, seen)[0] == 403
    assert not respond.calls
    with pytest.raises(StaleTimestamp):
        plain.check_signature(ref_sign(TOKEN, NOW - 301, "n"), str(NOW - 301), "n")
    plain.check_signature(ref_sign(TOKEN, NOW - 299, "n"), str(NOW - 299), "n")  # inside the bound
    lax = WeChatCodec(TOKEN, APP_ID, clock=lambda: NOW, max_skew=7200)
    lax.check_signature(ref_sign(TOKEN, NOW - 3600, "n"), str(NOW - 3600), "n")


def test_a_captured_query_string_carries_one_body_only(plain, safe):
    """Plain mode signs the query (timestamp, nonce), not the body: a captured query string
    replayed with other bodies (other senders, other messages) is refused; the same request
    again is WeChat's retry and answered once."""
    seen, respond = DedupStore(), Responder()
    args = plain_args()
    first = text_xml("帮助", msg_id="70")
    assert handle(plain, first.encode(), args, respond, seen)[0] == 200
    for n in range(5):
        forged = text_xml(f"绑定 {n:06d}", msg_id=str(71 + n), from_user=f"o-forged-{n}")
        assert handle(plain, forged.encode(), args, respond, seen)[:2] == (403, "forbidden")
    assert handle(plain, first.encode(), args, respond, seen)[:2] == (200, "success")  # the retry
    assert [m.content for m in respond.calls] == ["帮助"]
    # Safe mode's msg_signature covers the ciphertext, but the rule is the same.
    body, safe_args = safe_request(text_xml(msg_id="80"))
    other, _ = safe_request(text_xml(msg_id="81"), nonce=safe_args["nonce"])
    assert handle(safe, body, safe_args, respond, seen)[0] == 200
    assert handle(safe, other, safe_args, respond, seen)[0] == 403  # its msg_signature does not match either


def test_nonces_are_remembered_for_the_whole_skew_window():
    clock = [NOW]
    codec = WeChatCodec(TOKEN, APP_ID, clock=lambda: clock[0])
    nonces = StoreDedup(MemoryStore(clock=lambda: clock[0]), ttl=nonce_ttl(codec), prefix="wechat:nonce:")
    args = plain_args(ts=NOW + 290)  # a sender clock 290 s ahead: accepted until our clock reaches NOW + 590
    assert handle(codec, text_xml(msg_id="90").encode(), args, Responder(), DedupStore(), nonces=nonces)[0] == 200
    clock[0] = NOW + 580
    assert handle(codec, text_xml(msg_id="91").encode(), args, Responder(), DedupStore(), nonces=nonces)[0] == 403
    clock[0] = NOW + 591  # the timestamp itself is refused from now on
    assert handle(codec, text_xml(msg_id="92").encode(), args, Responder(), DedupStore(), nonces=nonces)[0] == 403


def test_wrong_app_id_inside_ciphertext(safe, seen):
    respond = Responder()
    body, args = safe_request(text_xml(), app_id=OTHER_APP_ID)
    assert handle(safe, body, args, respond, seen)[0] == 403
    with pytest.raises(InvalidAppId):
        safe.decode(body, args)
    assert not respond.calls


def test_mode_mismatch_is_refused(plain, safe, seen):
    respond = Responder()
    assert handle(safe, text_xml().encode(), plain_args(), respond, seen)[0] == 403  # plain into safe mode
    body, args = safe_request(text_xml())
    assert handle(plain, body, args, respond, seen)[0] == 403  # encrypted but no key
    assert not respond.calls


def test_replayed_msg_id_answered_once(plain, safe):
    seen = DedupStore()
    respond = Responder("一次")
    first = handle(plain, text_xml(msg_id="42").encode(), plain_args(), respond, seen)
    again = handle(plain, text_xml(msg_id="42").encode(), plain_args(nonce="other"), respond, seen)
    assert first[0] == 200 and fields_of(first[1])["Content"] == "一次"
    assert again[:2] == (200, "success")
    assert len(respond.calls) == 1
    body, args = safe_request(text_xml(msg_id="43"))
    handle(safe, body, args, respond, seen)
    body, args = safe_request(text_xml(msg_id="43"), nonce="retry")
    assert handle(safe, body, args, respond, seen)[:2] == (200, "success")
    assert len(respond.calls) == 2


def test_event_dedup_by_from_user_and_create_time(plain):
    seen = DedupStore()
    respond = Responder("好")
    for _ in range(3):  # WeChat's three retries of one push
        handle(plain, event_xml("CLICK", key="HELP").encode(), plain_args(), respond, seen)
    assert len(respond.calls) == 1
    handle(plain, event_xml("CLICK", key="HELP", create_time=NOW + 1).encode(), plain_args(), respond, seen)
    handle(plain, event_xml("CLICK", key="HELP", from_user="oAnother").encode(), plain_args(), respond, seen)
    assert len(respond.calls) == 3
    a = parse_incoming(event_xml("subscribe"))
    assert dedup_key(a) == dedup_key(parse_incoming(event_xml("subscribe")))
    assert OPENID in dedup_key(a) and str(NOW) in dedup_key(a)
    assert dedup_key(parse_incoming(text_xml(msg_id="9"))) == "msg:9"


def test_failed_respond_lets_the_retry_through(plain):
    seen = DedupStore()
    respond = Responder("第二次成功", fail_times=1)
    assert handle(plain, text_xml(msg_id="50").encode(), plain_args(), respond, seen)[0] == 500
    status, body, _ = handle(plain, text_xml(msg_id="50").encode(), plain_args(), respond, seen)
    assert status == 200 and fields_of(body)["Content"] == "第二次成功"
    assert len(respond.calls) == 2


@pytest.mark.parametrize("hostile", [BILLION_LAUGHS, EXTERNAL_ENTITY, BARE_DTD])
def test_hostile_xml_refused(hostile, plain, safe):
    respond = Responder()
    assert handle(plain, hostile.encode(), plain_args(), respond, DedupStore())[0] == 400
    body, args = safe_request(hostile)  # properly encrypted and signed: refused after decryption
    assert handle(safe, body, args, respond, DedupStore())[0] == 400
    assert not respond.calls
    with pytest.raises(HostileXML):
        parse_incoming(hostile)


def test_hostile_envelope_refused(safe, seen):
    encrypt = ref_encrypt(text_xml())
    body = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            f"<xml><Encrypt>{encrypt}</Encrypt><Leak>&e;</Leak></xml>").encode()
    args = {"timestamp": str(NOW), "nonce": "n", "encrypt_type": "aes", "msg_signature": ref_sign(TOKEN, NOW, "n", encrypt)}
    respond = Responder()
    assert handle(safe, body, args, respond, seen)[0] == 400
    assert not respond.calls


def test_malformed_xml(plain, safe, seen):
    respond = Responder()
    for bad in [b"", b"not xml", b"<xml><ToUserName>x</ToUserName>", text_xml().replace("<xml>", "<root>").replace("</xml>", "</root>").encode(),
                text_xml().replace(f"<CreateTime>{NOW}</CreateTime>", "<CreateTime>soon</CreateTime>").encode(),
                text_xml().replace("<MsgType><![CDATA[text]]></MsgType>", "").encode(), b"<xml>&undefined;</xml>"]:
        assert handle(plain, bad, plain_args(), respond, seen)[0] == 400, bad
    body, args = safe_request("<xml><MsgType>text</MsgType></xml>")
    assert handle(safe, body, args, respond, seen)[0] == 400
    envelope_without_encrypt = b"<xml><ToUserName>gh</ToUserName></xml>"
    assert handle(safe, envelope_without_encrypt, args, respond, seen)[0] == 400
    assert not respond.calls
    with pytest.raises(MalformedMessage):
        parse_incoming("<xml/>")


def test_oversized_body_413(plain, safe, seen):
    respond = Responder()
    big = text_xml("票" * 30000).encode()  # ~90 KB
    assert len(big) > 64 * 1024
    assert handle(plain, big, plain_args(), respond, seen)[0] == 413
    body, args = safe_request(text_xml("票" * 30000))
    assert handle(safe, body, args, respond, seen)[0] == 413
    assert not respond.calls
    with pytest.raises(MessageTooLarge):
        parse_incoming(big)
    small_cap = WeChatCodec(TOKEN, APP_ID, clock=lambda: NOW, max_body_bytes=100)
    assert handle(small_cap, text_xml().encode(), plain_args(), respond, seen)[0] == 413


def test_codec_errors_directly(plain, safe):
    with pytest.raises(InvalidSignature):
        plain.decode(text_xml().encode(), plain_args() | {"signature": "0" * 40})
    assert plain.decode(text_xml().encode(), plain_args()) == text_xml()
    body, args = safe_request(text_xml("解密"))
    assert safe.decode(body, args) == text_xml("解密")
    assert plain.encode_reply("<xml/>", "n") == "<xml/>"
    enc = safe.encode_reply("<xml><A>1</A></xml>", "n2", NOW)
    env = fields_of(enc)
    assert env["TimeStamp"] == str(NOW) and ref_decrypt(env["Encrypt"]) == ("<xml><A>1</A></xml>", APP_ID)
    env = fields_of(safe.encode_reply("<xml/>", "n3", f" {NOW} "))
    assert env["TimeStamp"] == str(NOW) and env["MsgSignature"] == ref_sign(TOKEN, NOW, "n3", env["Encrypt"])
    env = fields_of(safe.encode_reply("<xml/>", "n4"))  # no timestamp: the codec's clock
    assert env["TimeStamp"] == str(NOW) and env["MsgSignature"] == ref_sign(TOKEN, NOW, "n4", env["Encrypt"])


# --------------------------------------- replies and parsing ------------------------------------

def test_text_reply_is_cdata_safe_and_bounded():
    incoming = parse_incoming(text_xml())
    tricky = "a]]>b<c>&d;\x00\x07e]]]]>f"
    reply = fields_of(text_reply(incoming, tricky, now=NOW))
    assert reply["Content"] == "a]]>b<c>&d;e]]]]>f"
    assert (reply["ToUserName"], reply["FromUserName"], reply["CreateTime"], reply["MsgType"]) == (OPENID, GH, str(NOW), "text")
    long = fields_of(text_reply(incoming, "票" * 1000, now=NOW))["Content"]
    assert len(long.encode("utf-8")) <= MAX_TEXT_BYTES and long.endswith("……") and long.startswith("票票")


def test_incoming_repr_leaves_the_content_out():
    incoming = parse_incoming(text_xml("身份证 460200199001011234"))
    assert "4602" not in repr(incoming) and incoming.content.endswith("1234")
    # a message type other than text has no content; an event's MsgId-less key uses the openid
    assert parse_incoming(event_xml("VIEW", key="https://x")).event == "view"


# --------------------------------------- dedup stores -------------------------------------------

def test_dedup_store_ttl_and_bound():
    now = [0.0]
    store = DedupStore(ttl=10, clock=lambda: now[0], max_entries=3)
    assert isinstance(store, SeenStore)
    assert store.add("a") and not store.add("a") and store.get("a")
    now[0] = 10.5
    assert not store.get("a") and store.add("a")
    for k in "bcd":
        store.add(k)
    assert len(store) == 3 and not store.get("a")  # the oldest made room
    store.delete("d")
    assert not store.get("d") and store.add("d")


def test_store_dedup_over_a_key_value_store():
    class KV:
        def __init__(self):
            self.data, self.ttls = {}, {}

        def add(self, key, ttl):
            if key in self.data:
                return False
            self.data[key], self.ttls[key] = "1", ttl
            return True

        def get(self, key):
            return self.data.get(key)

        def delete(self, key):
            self.data.pop(key, None)

    kv = KV()
    seen = StoreDedup(kv, ttl=120)
    assert isinstance(seen, SeenStore)
    assert seen.add("msg:1") and not seen.add("msg:1") and seen.get("msg:1")
    assert kv.ttls == {"wechat:seen:msg:1": 120}
    seen.delete("msg:1")
    assert not seen.get("msg:1")


# --------------------------------------- sender against a stand-in ------------------------------

class StandIn:
    """A loopback stand-in of api.weixin.qq.com: records every call; `script[path]` holds
    answers to give first (("json", status, body) or ("drop",)), then the default behaviour."""

    def __init__(self):
        self.calls: list[dict] = []
        self.script: dict[str, list] = {}
        self.issued = 0
        self.valid: set[str] = set()
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                with stand_in.lock:
                    stand_in.calls.append({"method": self.command, "path": url.path, "query": query, "raw": raw,
                                           "content_type": self.headers.get("Content-Type")})
                    queued = stand_in.script.get(url.path)
                    action = queued.pop(0) if queued else None
                    if action is None:
                        action = stand_in.default(url.path, query)
                if action[0] == "drop":
                    self.close_connection = True
                    return
                _, status, body = action
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def default(self, path, query):
        if path == "/cgi-bin/token":
            if query.get("appid") != APP_ID or query.get("secret") != SECRET or query.get("grant_type") != "client_credential":
                return ("json", 200, {"errcode": 40013, "errmsg": "invalid appid"})
            self.issued += 1
            token = f"TOKEN-{self.issued}"
            self.valid.add(token)
            return ("json", 200, {"access_token": token, "expires_in": 7200})
        if query.get("access_token") not in self.valid:
            return ("json", 200, {"errcode": 42001, "errmsg": "access_token expired"})
        return ("json", 200, {"errcode": 0, "errmsg": "ok", "msgid": 1000 + len(self.calls)})

    def expire_tokens(self):
        with self.lock:
            self.valid.clear()

    def calls_to(self, path):
        return [c for c in self.calls if c["path"] == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def stand_in():
    server = StandIn()
    yield server
    server.close()


class Clock:
    def __init__(self, now=NOW):
        self.now = float(now)

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def sender(stand_in, clock, sleeps):
    s = WeChatSender(stand_in.base, APP_ID, SECRET, requests.Session(), clock, sleep=sleeps.append, timeout=5)
    yield s
    s.http.close()


SEND = "/cgi-bin/message/custom/send"
BIZSEND = "/cgi-bin/message/subscribe/bizsend"
TOKEN_PATH = "/cgi-bin/token"


def test_send_text_shape_and_token_cached(sender, stand_in, sleeps):
    results = [sender.send_text(OPENID, f"您有一张新票据 #{i}") for i in range(3)]
    assert all(isinstance(r, Sent) and r.ok and r.msg_id for r in results)
    (token_call,) = stand_in.calls_to(TOKEN_PATH)
    assert token_call["method"] == "GET"
    assert token_call["query"] == {"grant_type": "client_credential", "appid": APP_ID, "secret": SECRET}
    sends = stand_in.calls_to(SEND)
    assert len(sends) == 3 and all(c["query"] == {"access_token": "TOKEN-1"} and c["method"] == "POST" for c in sends)
    assert json.loads(sends[0]["raw"]) == {"touser": OPENID, "msgtype": "text", "text": {"content": "您有一张新票据 #0"}}
    assert "您有".encode() in sends[0]["raw"] and b"\\u" not in sends[0]["raw"]  # real UTF-8, not escapes
    assert sends[0]["content_type"].startswith("application/json")
    assert not sleeps


def test_token_refreshed_after_expiry(sender, stand_in, clock):
    sender.send_text(OPENID, "一")
    clock.now += 7200 - 300 - 1  # still inside the cached lifetime
    sender.send_text(OPENID, "二")
    assert len(stand_in.calls_to(TOKEN_PATH)) == 1
    clock.now += 2  # 5 minutes before expires_in: fetched again
    sender.send_text(OPENID, "三")
    assert len(stand_in.calls_to(TOKEN_PATH)) == 2
    assert stand_in.calls_to(SEND)[-1]["query"]["access_token"] == "TOKEN-2"


def test_token_refreshed_once_on_42001_and_retried(sender, stand_in):
    sender.send_text(OPENID, "一")
    stand_in.expire_tokens()  # WeChat now answers 42001 for TOKEN-1
    result = sender.send_text(OPENID, "二")
    assert isinstance(result, Sent)
    assert len(stand_in.calls_to(TOKEN_PATH)) == 2
    assert [c["query"]["access_token"] for c in stand_in.calls_to(SEND)] == ["TOKEN-1", "TOKEN-1", "TOKEN-2"]
    assert json.loads(stand_in.calls_to(SEND)[-1]["raw"])["text"]["content"] == "二"


def test_token_refused_twice_raises(sender, stand_in):
    stand_in.script[SEND] = [("json", 200, {"errcode": 40001, "errmsg": "invalid credential"})] * 2
    with pytest.raises(SendFailed) as err:
        sender.send_text(OPENID, "x")
    assert err.value.errcode == 40001
    assert len(stand_in.calls_to(SEND)) == 2 and len(stand_in.calls_to(TOKEN_PATH)) == 2


def test_5xx_then_success_is_retried_with_backoff(sender, stand_in, sleeps):
    stand_in.script[SEND] = [("json", 500, {}), ("json", 502, {})]
    assert isinstance(sender.send_text(OPENID, "重试"), Sent)
    assert len(stand_in.calls_to(SEND)) == 3
    assert sleeps == [0.5, 1.0]


def test_system_busy_and_network_error_are_retried(sender, stand_in, sleeps):
    stand_in.script[SEND] = [("json", 200, {"errcode": -1, "errmsg": "system error"}), ("drop",)]
    assert isinstance(sender.send_text(OPENID, "忙"), Sent)
    assert len(stand_in.calls_to(SEND)) == 3 and sleeps == [0.5, 1.0]


def test_persistent_failure_raises_after_bounded_tries(sender, stand_in, sleeps):
    stand_in.script[SEND] = [("json", 503, {})] * 5
    with pytest.raises(SendFailed) as err:
        sender.send_text(OPENID, "失败")
    assert err.value.retryable and err.value.status == 503
    assert len(stand_in.calls_to(SEND)) == 3 and sleeps == [0.5, 1.0]


def test_outside_48_hours_is_not_allowed(sender, stand_in, sleeps):
    stand_in.script[SEND] = [("json", 200, {"errcode": 45015, "errmsg": "response out of time limit"})]
    result = sender.send_text(OPENID, "超时")
    assert isinstance(result, NotAllowed) and not result.ok
    assert (result.errcode, result.reason) == (45015, "outside_window")
    assert len(stand_in.calls_to(SEND)) == 1 and not sleeps


def test_subscription_message_shape_and_refusal(sender, stand_in):
    result = sender.send_subscription(OPENID, "TPL-abc", {"thing1": "报销已通过", "amount2": {"value": "¥120.00"}},
                                      page="https://piaojia.example.cn/app/#/claims")
    assert isinstance(result, Sent)
    (call,) = stand_in.calls_to(BIZSEND)
    assert call["query"] == {"access_token": "TOKEN-1"}
    assert json.loads(call["raw"]) == {
        "touser": OPENID, "template_id": "TPL-abc", "page": "https://piaojia.example.cn/app/#/claims",
        "data": {"thing1": {"value": "报销已通过"}, "amount2": {"value": "¥120.00"}},
    }
    sender.send_subscription(OPENID, "TPL-abc", {"thing1": "x"})
    assert "page" not in json.loads(stand_in.calls_to(BIZSEND)[-1]["raw"])
    stand_in.script[BIZSEND] = [("json", 200, {"errcode": 43101, "errmsg": "user refuse to accept the msg"})]
    refused = sender.send_subscription(OPENID, "TPL-abc", {"thing1": "x"})
    assert isinstance(refused, NotAllowed) and refused.reason == "subscription_refused"


def test_other_errors_raise_without_retry(sender, stand_in, sleeps):
    stand_in.script[SEND] = [("json", 200, {"errcode": 40003, "errmsg": "invalid openid"})]
    with pytest.raises(SendFailed) as err:
        sender.send_text("bad-openid", "x")
    assert err.value.errcode == 40003 and not err.value.retryable
    assert len(stand_in.calls_to(SEND)) == 1 and not sleeps


def test_token_fetch_failures_never_show_the_secret(stand_in, clock, sleeps):
    bad = WeChatSender(stand_in.base, APP_ID, "wrong-secret", clock=clock, sleep=sleeps.append)
    with pytest.raises(SendFailed) as err:
        bad.send_text(OPENID, "x")
    assert err.value.errcode == 40013 and not stand_in.calls_to(SEND)
    stand_in.script[TOKEN_PATH] = [("drop",)] * 3
    good = WeChatSender(stand_in.base, APP_ID, SECRET, clock=clock, sleep=sleeps.append)
    with pytest.raises(SendFailed) as err:
        good.send_text(OPENID, "x")
    assert SECRET not in str(err.value) and SECRET not in repr(good) and err.value.retryable
    assert len(stand_in.calls_to(TOKEN_PATH)) == 4


def test_create_menu(sender, stand_in):
    with pytest.raises(ValueError):
        sender.create_menu(DEFAULT_MENU)  # placeholder URL
    menu = default_menu("https://piaojia.example.cn/app/")
    sender.create_menu(menu)
    (call,) = stand_in.calls_to("/cgi-bin/menu/create")
    assert json.loads(call["raw"]) == menu and "我的票据".encode() in call["raw"]
    names = [b["name"] for b in menu["button"]]
    assert names == ["我的票据", "报销进度", "更多"]
    more = menu["button"][2]["sub_button"]
    assert [b["name"] for b in more] == ["验真", "我的授权", "消息", "帮助", "打开小程序"]
    assert more[-1] == {"type": "view", "name": "打开小程序", "url": "https://piaojia.example.cn/app/"}
    assert all(b["type"] == "click" and b["key"] for b in menu["button"][:2] + more[:-1])
    stand_in.script["/cgi-bin/menu/create"] = [("json", 200, {"errcode": 40018, "errmsg": "invalid button name size"})]
    with pytest.raises(SendFailed):
        sender.create_menu(menu)


@pytest.mark.parametrize("menu", [
    {"button": []},
    {"button": [{"type": "click", "name": "一二三四五六", "key": "K"}]},  # 18 bytes > 16
    {"button": [{"type": "click", "name": "a", "key": "K"}] * 4},
    {"button": [{"name": "更多", "sub_button": [{"type": "click", "name": "x", "key": "k"}] * 6}]},
    {"button": [{"type": "click", "name": "x"}]},
    {"button": [{"type": "view", "name": "x", "url": "javascript:alert(1)"}]},
])
def test_validate_menu_refuses(menu):
    with pytest.raises(ValueError):
        validate_menu(menu)


def test_validate_menu_accepts_limits():
    validate_menu({"button": [{"type": "click", "name": "一二三四五", "key": "K" * 128}]})  # 15 bytes
    validate_menu(default_menu("https://piaojia.example.cn/app/"))
