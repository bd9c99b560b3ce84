"""Incoming WeChat official-account messages and passive replies.

Every XML that comes from outside (the safe-mode envelope and the message inside) is parsed
here with defusedxml: a DTD, any entity declaration and any external reference are refused,
and so is anything over the size cap. `msg_type` and `event` are lower-cased ("text",
"event"; "subscribe", "unsubscribe", "scan", "click", "view", ...).
"""
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as _defused_fromstring

from bots.wechat.errors import HostileXML, MalformedMessage, MessageTooLarge

MAX_BODY_BYTES = 64 * 1024
# WeChat shows at most 2048 bytes of a text message; a longer passive reply is not delivered.
MAX_TEXT_BYTES = 2048
TRUNCATION_MARK = "……"

# Event names (lower-cased) the bot cares about.
EVENT_SUBSCRIBE = "subscribe"
EVENT_UNSUBSCRIBE = "unsubscribe"
EVENT_SCAN = "scan"
EVENT_CLICK = "click"
EVENT_VIEW = "view"

_SCENE_PREFIX = "qrscene_"
# Characters XML 1.0 cannot carry at all (not even escaped or in CDATA).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def parse_xml(data: bytes | str, *, max_bytes: int = MAX_BODY_BYTES) -> ET.Element:
    """The root element of untrusted XML. MessageTooLarge over `max_bytes`, HostileXML for a
    DTD / entity / external reference, MalformedMessage for anything else unreadable."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > max_bytes:
        raise MessageTooLarge(f"body over {max_bytes} bytes")
    if not data.strip():
        raise MalformedMessage("empty body")
    try:
        return _defused_fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise HostileXML(f"refused XML construct: {type(exc).__name__}") from exc
    except ET.ParseError as exc:
        raise MalformedMessage("not well-formed XML") from exc
    except (ValueError, UnicodeError) as exc:
        raise MalformedMessage("unreadable XML") from exc


def child_texts(root: ET.Element) -> dict[str, str]:
    """The text of each direct child of `root` (first occurrence wins; nested ones ignored)."""
    out: dict[str, str] = {}
    for child in root:
        if isinstance(child.tag, str) and child.tag not in out and len(child) == 0:
            out[child.tag] = child.text or ""
    return out


@dataclass(frozen=True)
class Incoming:
    """One message or event pushed by WeChat. `content` is the user's text: it is left out of
    repr() so that it cannot reach a log through one (it may hold an ID number)."""

    to_user: str  # our account's original id (gh_...)
    from_user: str  # the user's openid
    create_time: int
    msg_type: str  # lower-cased: text, image, voice, event, ... (unknown ones kept as sent)
    msg_id: str | None = None
    content: str | None = field(default=None, repr=False)
    event: str | None = None  # lower-cased: subscribe, unsubscribe, scan, click, view, ...
    event_key: str | None = None
    ticket: str | None = field(default=None, repr=False)
    fields: dict = field(default_factory=dict, repr=False, compare=False)  # every top-level field

    @property
    def is_event(self) -> bool:
        return self.msg_type == "event"

    @property
    def scene(self) -> str | None:
        """The QR scene of a subscribe-with-scene (EventKey "qrscene_<x>") or SCAN (EventKey
        "<x>") event: the binding code the citizen scanned. None for everything else."""
        if self.event == EVENT_SUBSCRIBE and self.event_key and self.event_key.startswith(_SCENE_PREFIX):
            return self.event_key[len(_SCENE_PREFIX):] or None
        if self.event == EVENT_SCAN and self.event_key:
            return self.event_key
        return None


def parse_incoming(data: bytes | str, *, max_bytes: int = MAX_BODY_BYTES) -> Incoming:
    """Incoming from the (decrypted) message XML; errors as parse_xml, MalformedMessage when
    the root is not <xml> or a required field is missing."""
    root = parse_xml(data, max_bytes=max_bytes)
    if root.tag != "xml":
        raise MalformedMessage("root element is not <xml>")
    f = child_texts(root)
    missing = [k for k in ("ToUserName", "FromUserName", "CreateTime", "MsgType") if not f.get(k, "").strip()]
    if missing:
        raise MalformedMessage(f"missing fields: {', '.join(missing)}")
    try:
        create_time = int(f["CreateTime"].strip())
    except ValueError as exc:
        raise MalformedMessage("CreateTime is not an integer") from exc
    msg_type = f["MsgType"].strip().lower()
    event = f.get("Event", "").strip().lower() or None
    return Incoming(
        to_user=f["ToUserName"].strip(),
        from_user=f["FromUserName"].strip(),
        create_time=create_time,
        msg_type=msg_type,
        msg_id=(f.get("MsgId") or f.get("MsgID") or "").strip() or None,
        content=f.get("Content") if msg_type == "text" else None,
        event=event if msg_type == "event" else None,
        event_key=(f.get("EventKey") or "").strip() or None,
        ticket=(f.get("Ticket") or "").strip() or None,
        fields=f,
    )


def dedup_key(incoming: Incoming) -> str:
    """WeChat retries a push up to 3 times: MsgId identifies a message; an event has none, so
    FromUserName + CreateTime (with the event name and key, so that two different menu clicks in
    the same second are not taken for one retried push)."""
    if incoming.msg_id:
        return f"msg:{incoming.msg_id}"
    return f"evt:{incoming.from_user}:{incoming.create_time}:{incoming.event or incoming.msg_type}:{incoming.event_key or ''}"


def cdata(text: str) -> str:
    """`text` as CDATA section(s): "]]>" split across two sections, XML-invalid chars dropped."""
    text = _XML_INVALID.sub("", text)
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def fit_text(text: str, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """`text` cut (on a character boundary, with a visible mark) to fit `max_bytes` of UTF-8."""
    if len(text.encode("utf-8")) <= max_bytes:
        return text
    budget = max_bytes - len(TRUNCATION_MARK.encode("utf-8"))
    out = text.encode("utf-8")[:budget].decode("utf-8", "ignore")
    return out + TRUNCATION_MARK


def text_reply(incoming: Incoming, text: str, *, now: float | None = None,
               max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The passive reply XML answering `incoming` with `text` (to and from swapped)."""
    create_time = int(time.time() if now is None else now)
    return (
        "<xml>"
        f"<ToUserName>{cdata(incoming.from_user)}</ToUserName>"
        f"<FromUserName>{cdata(incoming.to_user)}</FromUserName>"
        f"<CreateTime>{create_time}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(fit_text(text, max_bytes))}</Content>"
        "</xml>"
    )
