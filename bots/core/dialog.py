"""The conversation: one chat message in, one `Reply` out, with multi-turn state per user.

    conv = Conversation(app_url="https://piaojia.example.cn/app/", store=MemoryStore())
    reply = conv.reply(user_id, text, api, now)

`api` is the citizen's API client (see bots/api_client.py `CitizenApi`), or None when the
chat user has not bound an account. The core never redeems binding codes, never holds
tokens and never imports backend code: a message that is a binding code comes back as
`Reply.bind_code` for the adapter to redeem; `Reply.unbound` tells the adapter to forget
the token (after 解绑, or when the API answered 401).

State (a pending question, the last list shown, the citizen's issuer names) lives in a
pluggable store with `get(key)`, `set(key, value, ttl=seconds)`, `delete(key)`; values are
JSON-serialisable. Each state also carries its own expiry, checked against the `now`
passed in, so an abandoned question is forgotten after `ttl` (10 minutes by default).
"""
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from bots.core import nlu, render
from bots.core.dates import CHINA, Period, local_today
from bots.core.errors import ApiError
from bots.store import MemoryStore  # noqa: F401 - the default store, re-exported

log = logging.getLogger(__name__)

STRONG_INTENTS = {"list_receipts", "receipt_detail", "claims", "verify", "authorizations", "revoke", "authorize",
                  "notifications", "push_settings", "unbind", "help"}
HOSPITAL_INTENTS = {"list_receipts", "receipt_detail", "unknown"}
_NEGATION = re.compile(r"^(?:不|别|算了|先不|放弃|否)")
_CANCEL = re.compile(r"^(?:算了|不用|不要|不查|不验|不撤|不选|不了|放弃|先不|别)|退出")  # leaving a question
_AFFIRMATION = re.compile(r"^(?:确认|确定|是的?|好的?|对的?|嗯+|可以|行|ok|同意|没问题)")
LIST_LIMIT = 50
_REVOKE_WORDS = re.compile(r"确认|确定|撤销|撤回|收回|取消|解除|终止|停止|不想|不再|不要|对|给|的|授权|我|全部|所有|了|这个|那个|"
                           r"1个|单位|吧|是")


@dataclass
class Reply:
    """One answer. `links`: (label, url) pairs into the mini-app, for channels that show
    buttons or cards; `plain()` appends them as text for channels that cannot."""

    text: str
    links: list[tuple[str, str]] = field(default_factory=list)
    done: bool = True                 # False: a question is pending, the next message answers it
    bind_code: str | None = None      # a binding code the adapter should redeem for this chat user
    unbound: bool = False             # the binding has ended: the adapter forgets the token
    intent: str | None = None         # what the message was understood as (logs, metrics)

    def plain(self) -> str:
        return "\n".join([self.text] + [f"{label}：{url}" for label, url in self.links])


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CHINA)


@dataclass
class _Turn:
    user_id: str
    api: object
    now: datetime
    today: object
    state: dict


class Conversation:
    def __init__(self, app_url: str = "/app/", store=None, *, ttl: timedelta = timedelta(minutes=10),
                 key_prefix: str = "conv:"):
        self.links = render.Links(app_url)
        self.store = store if store is not None else MemoryStore()
        self.ttl = ttl
        self.key_prefix = key_prefix

    # -- public ---------------------------------------------------------------------------

    def reply(self, user_id: str, text: str, api, now: datetime) -> Reply:
        """The answer to one message from `user_id`. `api`: the bound citizen's API client,
        None when this chat user is not bound. `now`: the time of the message."""
        try:
            answer = self._reply(user_id, text or "", api, now)
        except ApiError as exc:
            if exc.status == 401:
                self.forget(user_id)
                return Reply(render.BIND_EXPIRED, done=True, unbound=True, intent="unbound")
            self._drop_pending(user_id, now)
            log.info("api error in conversation", extra={"status": exc.status, "code": exc.code})
            return Reply(render.api_error(exc.status, exc.title), intent="error")
        except Exception:  # a chat must always get an answer; the cause goes to the log
            log.exception("conversation failed")
            self._drop_pending(user_id, now)
            return Reply("抱歉，出了点问题，请稍后再试。", intent="error")
        answer.text = render.clip(answer.text)
        return answer

    def forget(self, user_id: str) -> None:
        """Drops everything remembered about this chat user (after unbinding)."""
        self.store.delete(self.key_prefix + user_id)

    def welcome(self, name: str | None = None) -> Reply:
        """What to say after the adapter redeemed a binding code successfully."""
        who = f"{name}，" if name else ""
        return Reply(f"绑定成功！{who}现在可以直接问我：\n· 我的票据\n· 报销进度\n· 验真\n发送「帮助」查看全部功能。",
                     links=[self.links.wallet()], intent="bound")

    def bind_failed(self, error: ApiError | None = None) -> Reply:
        """What to say when redeeming a binding code failed."""
        title = (error.title if error is not None else None) or "绑定码无效或已过期"
        return Reply(f"绑定失败：{title.rstrip('。')}。\n请在票夹小程序「我的」页面重新获取绑定码，发送「绑定 123456」给我。",
                     links=[self.links.profile()], intent="bind_failed")

    # -- state ----------------------------------------------------------------------------

    def _load(self, user_id: str, now: datetime) -> dict:
        state = self.store.get(self.key_prefix + user_id) or {}
        expires = state.get("expires_at")
        if expires and _aware(datetime.fromisoformat(expires)) <= _aware(now):
            return {}
        return state

    def _save(self, turn: _Turn) -> None:
        turn.state["expires_at"] = (_aware(turn.now) + self.ttl).isoformat()
        self.store.set(self.key_prefix + turn.user_id, turn.state, ttl=self.ttl.total_seconds())

    def _drop_pending(self, user_id: str, now: datetime) -> None:
        state = self._load(user_id, now)
        if state.pop("pending", None) is not None:
            self._save(_Turn(user_id, None, now, None, state))

    def _ask(self, turn: _Turn, pending: dict, text: str, intent: str, links=()) -> Reply:
        turn.state["pending"] = pending
        return Reply(text, links=list(links), done=False, intent=intent)

    def _issuers(self, turn: _Turn, *, fetch: bool) -> list[list[str]] | None:
        """[name, credit code] of the issuers in the citizen's recent receipts, cached in the
        state; None when not cached and `fetch` is false."""
        cache = turn.state.get("issuers")
        if cache and _aware(datetime.fromisoformat(cache["until"])) > _aware(turn.now):
            return cache["items"]
        if not fetch:
            return None
        seen: dict[str, str | None] = {}
        for r in (turn.api.receipts(limit=100) or {}).get("items") or []:
            issuer = r.get("issuer") or {}
            if issuer.get("name"):
                seen.setdefault(issuer["name"], issuer.get("credit_code"))
        items = [[name, code] for name, code in seen.items()]
        turn.state["issuers"] = {"items": items, "until": (_aware(turn.now) + self.ttl).isoformat()}
        return items

    # -- the turn -------------------------------------------------------------------------

    def _reply(self, user_id: str, text: str, api, now: datetime) -> Reply:
        today = local_today(now)
        if api is None:
            return self._unbound(user_id, text, today)
        turn = _Turn(user_id, api, now, today, self._load(user_id, now))
        pending = turn.state.pop("pending", None)
        cached = self._issuers(turn, fetch=False)
        p = nlu.parse(text, today=today, hospitals=[n for n, _ in cached or []])
        wants_names = (pending is None or pending.get("flow") == "choose_hospital") and not p.key
        if wants_names and cached is None and p.intent in HOSPITAL_INTENTS:
            names = [n for n, _ in self._issuers(turn, fetch=True)]
            if names:
                p = nlu.parse(text, today=today, hospitals=names)
        answer = None
        if pending is not None:
            answer = self._continue(turn, pending, p, text)
        if answer is None:
            answer = self._dispatch(turn, p)
        if answer.unbound:
            self.forget(user_id)
        else:
            self._save(turn)
        return answer

    def _unbound(self, user_id: str, text: str, today) -> Reply:
        self.forget(user_id)
        p = nlu.parse(text, today=today)
        if p.intent == "help":
            return Reply(render.HELP + "\n" + render.UNBOUND_HINT, intent="help")
        if p.intent == "bind" and p.bind_code:
            return Reply("收到绑定码，正在为您绑定，请稍候…", bind_code=p.bind_code, intent="bind")
        if p.intent == "greeting":
            return Reply("您好！我是票夹助手。" + render.UNBOUND_HINT, intent="greeting")
        return Reply(render.UNBOUND_HINT, links=[self.links.profile()], intent="bind_hint")

    # -- answers to a pending question ----------------------------------------------------

    def _continue(self, turn: _Turn, pending: dict, p: nlu.Parsed, text: str) -> Reply | None:
        flow = pending.get("flow")
        if flow == "verify":
            return self._continue_verify(turn, pending, p, text)
        if flow in ("confirm_revoke", "confirm_unbind"):
            action = "revoke" if flow == "confirm_revoke" else "unbind"
            negated = bool(_NEGATION.match(p.compact))
            if p.intent == action and not negated and not self._same_action(pending, p, text):
                return None  # e.g. 撤销 another unit's authorization: a new request
            if p.intent == "confirm" or (not negated and (p.intent == action or _AFFIRMATION.match(p.compact))):
                return self._revoke_now(turn, pending) if action == "revoke" else self._unbind_now(turn)
            if p.intent == "deny" or negated:
                return Reply("好的，已取消，授权保持不变。" if action == "revoke" else "好的，已取消，绑定保持不变。",
                             intent="deny")
            if p.intent in STRONG_INTENTS:
                return None
            return self._ask(turn, pending, render.CONFIRM_AGAIN, "confirm")
        if flow in ("choose_auth", "choose_hospital", "choose_receipt"):
            options = pending.get("options") or []
            index = None
            if p.intent == "choice":
                if not 1 <= p.choice <= len(options):
                    return self._ask(turn, pending, f"请回复1到{len(options)}之间的序号，或回复「取消」放弃。", "choice")
                index = p.choice - 1
            elif p.intent == "deny" or _CANCEL.search(p.compact):
                return Reply("好的，已取消。", intent="deny")
            else:
                labels = [self._option_label(flow, o) for o in options]
                generic = nlu.UNIT_GENERIC if flow == "choose_auth" else nlu.HOSPITAL_GENERIC
                matched = nlu.match_names(text, labels, generic=generic)
                if len(matched) == 1:
                    index = labels.index(matched[0])
                elif p.intent in STRONG_INTENTS and not matched:
                    return None
                else:
                    return self._ask(turn, pending, f"请回复序号（1到{len(options)}），或回复「取消」放弃。", "choice")
            chosen = options[index]
            if flow == "choose_auth":
                return self._confirm_revoke(turn, chosen)
            if flow == "choose_receipt":
                return self._show_receipt(turn, chosen["key"])
            filters = self._filters_from_json(pending.get("filters") or {})
            if filters.intent == "receipt_detail":
                return self._detail(turn, filters, hospital=chosen)
            return self._list(turn, filters, hospital=chosen)
        return None

    @staticmethod
    def _same_action(pending: dict, p: nlu.Parsed, text: str) -> bool:
        """Whether a 撤销…/解绑… said while confirming is about the pending action itself."""
        if pending.get("flow") == "confirm_unbind":
            return True
        rest = _REVOKE_WORDS.sub("", p.compact)
        return not rest or bool(nlu.match_names(text, [pending.get("unit") or ""], generic=nlu.UNIT_GENERIC))

    @staticmethod
    def _option_label(flow: str, option) -> str:
        if flow == "choose_auth":
            return render.unit_name(option)
        if flow == "choose_receipt":
            return render.issuer_name(option)
        return option

    # -- dispatch -------------------------------------------------------------------------

    def _dispatch(self, turn: _Turn, p: nlu.Parsed) -> Reply:
        handler = {
            "list_receipts": self._list,
            "receipt_detail": self._detail,
            "claims": self._claims,
            "verify": self._verify,
            "authorizations": self._authorizations,
            "revoke": self._revoke,
            "notifications": self._notifications,
            "push_settings": self._push,
            "unbind": self._unbind,
            "bind": self._bind,
            "choice": self._choice,
        }.get(p.intent)
        if handler is not None:
            return handler(turn, p)
        fixed = {
            "help": (render.HELP, [self.links.wallet()]),
            "greeting": (render.GREETING, []),
            "thanks": (render.THANKS, []),
            "confirm": (render.ACK, []),
            "deny": (render.NOTHING_PENDING, []),
            "authorize": (render.AUTHORIZE, [self.links.scan()]),
        }
        if p.intent in fixed:
            text, links = fixed[p.intent]
            return Reply(text, links=links, intent=p.intent)
        return Reply(render.UNKNOWN, intent="unknown")

    # -- receipts -------------------------------------------------------------------------

    def _hospital_question(self, turn: _Turn, p: nlu.Parsed) -> Reply:
        options = p.hospitals[:6]
        lines = ["您指的是哪家医院？"] + [f"{i}. {name}" for i, name in enumerate(options, 1)]
        lines.append("回复序号即可" + ("，也可以直接发送医院全称" if len(p.hospitals) > len(options) else ""))
        pending = {"flow": "choose_hospital", "options": options, "filters": self._filters_to_json(p)}
        return self._ask(turn, pending, "\n".join(lines), p.intent)

    @staticmethod
    def _filters_to_json(p: nlu.Parsed) -> dict:
        return {"intent": p.intent, "period": p.period.to_json() if p.period else None, "status": p.status,
                "kind": p.kind, "want_total": p.want_total}

    @staticmethod
    def _filters_from_json(data: dict) -> nlu.Parsed:
        return nlu.Parsed(data.get("intent") or "list_receipts", period=Period.from_json(data.get("period")),
                          status=data.get("status"), kind=data.get("kind"), want_total=bool(data.get("want_total")))

    def _issuer_params(self, turn: _Turn, hospital: str | None) -> dict:
        if not hospital:
            return {}
        code = dict((n, c) for n, c in self._issuers(turn, fetch=True)).get(hospital)
        return {"issuer": code} if code else {"q": hospital}

    def _list(self, turn: _Turn, p: nlu.Parsed, hospital: str | None = None) -> Reply:
        if hospital is None and len(p.hospitals) > 1:
            return self._hospital_question(turn, p)
        hospital = hospital or (p.hospitals[0] if p.hospitals else None)
        params = {"limit": 100 if p.want_total or p.kind else LIST_LIMIT, **self._issuer_params(turn, hospital)}
        if p.period:
            params["date_from"], params["date_to"] = p.period.start.isoformat(), p.period.end.isoformat()
        if p.status:
            params["status"] = p.status
        data = turn.api.receipts(**params) or {}
        items = data.get("items") or []
        if p.kind:
            items = [r for r in items if r.get("kind") == p.kind]
        more = bool(data.get("next_cursor"))
        total = sum((Decimal(str(r.get("total_amount") or "0")) for r in items), Decimal("0")) if p.want_total else None
        label = render.filters_label(hospital=hospital, period=p.period, status=p.status, kind=p.kind)
        turn.state["last_keys"] = [r["key"] for r in items[:render.MAX_ITEMS]]
        links = [self.links.receipt(items[0]["key"])] if len(items) == 1 else [self.links.wallet()]
        return Reply(render.receipt_list(items, label=label, more=more, total=total), links=links, intent="list_receipts")

    def _detail(self, turn: _Turn, p: nlu.Parsed, hospital: str | None = None) -> Reply:
        if p.key:
            return self._show_receipt(turn, p.key)
        if p.latest and not p.hospitals and not p.period:
            items = (turn.api.receipts(limit=1) or {}).get("items") or []
            if not items:
                return Reply("您的票夹里还没有票据。", links=[self.links.wallet()], intent="receipt_detail")
            return self._show_receipt(turn, items[0]["key"])
        if p.number:
            items = [r for r in (turn.api.receipts(q=p.number, limit=10) or {}).get("items") or []
                     if r.get("number") == p.number]
            return self._pick_receipt(turn, items, f"号码为{p.number}的")
        if hospital is None and len(p.hospitals) > 1:
            return self._hospital_question(turn, p)
        hospital = hospital or (p.hospitals[0] if p.hospitals else None)
        params = {"limit": 10, **self._issuer_params(turn, hospital)}
        if p.period:
            params["date_from"], params["date_to"] = p.period.start.isoformat(), p.period.end.isoformat()
        items = (turn.api.receipts(**params) or {}).get("items") or []
        if p.kind:
            items = [r for r in items if r.get("kind") == p.kind]
        if p.latest:
            items = items[:1]
        return self._pick_receipt(turn, items, render.filters_label(hospital=hospital, period=p.period, kind=p.kind))

    def _pick_receipt(self, turn: _Turn, items: list[dict], label: str) -> Reply:
        if not items:
            return Reply(f"没有找到{label + '的' if label and not label.endswith('的') else label}票据。"
                         "\n可以发送「我的票据」查看全部。", links=[self.links.wallet()], intent="receipt_detail")
        if len(items) == 1:
            return self._show_receipt(turn, items[0]["key"])
        options = [{"key": r["key"], "issuer": r.get("issuer"), "issue_date": r.get("issue_date"),
                    "total_amount": r.get("total_amount"), "display_status": r.get("display_status"),
                    "kind": r.get("kind")} for r in items[:render.MAX_ITEMS]]
        text = render.receipt_choices(options, f"找到{len(items)}张票据，您要看哪一张？")
        return self._ask(turn, {"flow": "choose_receipt", "options": options}, text, "receipt_detail")

    def _show_receipt(self, turn: _Turn, key: str) -> Reply:
        receipt = turn.api.receipt(key)
        turn.state["last_receipt"] = key
        return Reply(render.receipt_detail(receipt), links=[self.links.receipt(receipt.get("key") or key)],
                     intent="receipt_detail")

    def _choice(self, turn: _Turn, p: nlu.Parsed) -> Reply:
        keys = turn.state.get("last_keys") or []
        if 1 <= p.choice <= len(keys):
            return self._show_receipt(turn, keys[p.choice - 1])
        if keys:
            return Reply(f"请回复1到{len(keys)}之间的序号查看票据详情。", intent="choice")
        return Reply("请先发送「我的票据」查看票据列表，再回复序号查看详情。", intent="choice")

    # -- claims ---------------------------------------------------------------------------

    def _claims(self, turn: _Turn, p: nlu.Parsed) -> Reply:
        items = (turn.api.claims() or {}).get("items") or []
        units = list(dict.fromkeys(render.unit_name(i) for i in items))
        matched = nlu.match_names(p.text, units, generic=nlu.UNIT_GENERIC) if units else []
        label = ""
        if matched:
            items = [i for i in items if render.unit_name(i) in matched]
            label = matched[0] if len(matched) == 1 else ""
        return Reply(render.claims(items, label=label), links=[self.links.claims()], intent="claims")

    # -- verify ---------------------------------------------------------------------------

    def _verify(self, turn: _Turn, p: nlu.Parsed) -> Reply:
        return self._verify_step(turn, dict(p.fields), first=True)

    def _verify_step(self, turn: _Turn, fields: dict, *, first: bool, misses: int = 0) -> Reply:
        missing = next((f for f in nlu.FIELD_ORDER if not fields.get(f)), None)
        if missing is not None:
            pending = {"flow": "verify", "fields": fields, "asked": missing, "misses": misses}
            return self._ask(turn, pending, render.verify_progress(fields, missing, first=first), "verify")
        result = turn.api.verify(**{k: fields[k] for k in nlu.FIELD_ORDER})
        return Reply(render.verify_result(result or {}), intent="verify")

    def _continue_verify(self, turn: _Turn, pending: dict, p: nlu.Parsed, text: str) -> Reply | None:
        asked = pending.get("asked")
        found = nlu.extract_fields(text, turn.today, expect=asked, verify=True)
        if found and p.intent != "deny":
            return self._verify_step(turn, {**(pending.get("fields") or {}), **found}, first=False)
        if p.intent == "deny" or _CANCEL.search(p.compact):
            return Reply("好的，已退出查验。需要时再发送「验真」。", intent="deny")
        if p.intent in STRONG_INTENTS:
            return None
        misses = int(pending.get("misses") or 0) + 1
        if misses >= 3:
            return Reply("多次没有识别到所需信息，已退出查验。需要时再发送「验真」，也可以在小程序中扫码查验。",
                         intent="verify")
        text = render.FIELD_RETRY[asked] + "\n" + render.FIELD_PROMPTS[asked] + "\n发送「取消」可退出查验。"
        return self._ask(turn, {**pending, "misses": misses}, text, "verify")

    # -- authorizations -------------------------------------------------------------------

    def _authorizations(self, turn: _Turn, p: nlu.Parsed) -> Reply:
        items = (turn.api.authorizations() or {}).get("items") or []
        return Reply(render.authorizations(items), links=[self.links.authorizations()], intent="authorizations")

    def _revoke(self, turn: _Turn, p: nlu.Parsed) -> Reply:
        items = (turn.api.authorizations() or {}).get("items") or []
        active = [self._slim_auth(a) for a in items if a.get("status") == "active"]
        if not active:
            return Reply("您目前没有生效中的授权，无需撤销。", links=[self.links.authorizations()], intent="revoke")
        names = list(dict.fromkeys(render.unit_name(a) for a in active))
        matched = nlu.match_names(p.text, names, generic=nlu.UNIT_GENERIC)
        candidates = [a for a in active if render.unit_name(a) in matched] if matched else active
        mention = _REVOKE_WORDS.sub("", p.compact)
        if len(candidates) == 1 and (matched or not mention):
            return self._confirm_revoke(turn, candidates[0])
        if not matched and mention:
            question = f"没有找到对「{render.shorten(mention, 10)}」的生效授权。您当前的授权："
        else:
            question = "您有以下生效中的授权，要撤销哪一个？"
        options = candidates[:8]
        return self._ask(turn, {"flow": "choose_auth", "options": options},
                         render.authorization_choices(options, question), "revoke")

    @staticmethod
    def _slim_auth(a: dict) -> dict:
        unit = a.get("unit") or {}
        return {"id": a.get("id"), "unit": {"name": unit.get("name"), "kind_label": unit.get("kind_label")},
                "status": a.get("status"), "expires_at": a.get("expires_at"),
                "receipts": [{"key": r.get("key"), "revoked_at": r.get("revoked_at")} for r in a.get("receipts") or []]}

    def _confirm_revoke(self, turn: _Turn, auth: dict) -> Reply:
        pending = {"flow": "confirm_revoke", "id": auth["id"], "unit": render.unit_name(auth)}
        return self._ask(turn, pending, render.revoke_question(auth), "revoke")

    def _revoke_now(self, turn: _Turn, pending: dict) -> Reply:
        result = turn.api.revoke(pending["id"]) or {}
        return Reply(render.revoke_result(result, pending.get("unit") or "报销单位"),
                     links=[self.links.authorizations()], intent="revoke")

    # -- notifications and push -----------------------------------------------------------

    def _notifications(self, turn: _Turn, p: nlu.Parsed) -> Reply:
        if p.mark_all:
            turn.api.mark_read(all_=True)
            return Reply("已将全部消息标为已读。", links=[self.links.messages()], intent="notifications")
        data = turn.api.notifications(unread=p.unread_only, limit=render.MAX_ITEMS) or {}
        items = (data.get("items") or [])[:render.MAX_ITEMS]
        unread_count = data.get("unread_count")
        if unread_count is None:
            unread_count = sum(1 for n in items if not n.get("read"))
        unread_ids = [n["id"] for n in items if not n.get("read")]
        marked = 0
        if unread_ids:
            try:
                turn.api.mark_read(ids=unread_ids)
                marked = len(unread_ids)
            except ApiError as exc:
                if exc.status == 401:
                    raise
                log.info("could not mark notifications read", extra={"status": exc.status})
        text = render.notifications(items, unread_only=p.unread_only, unread_count=unread_count, marked=marked)
        links = [self.links.messages()]
        keys = [n.get("receipt_key") for n in items if n.get("receipt_key")]
        if len(set(keys)) == 1:
            links.append(self.links.receipt(keys[0]))
        return Reply(text, links=links, intent="notifications")

    def _push(self, turn: _Turn, p: nlu.Parsed) -> Reply:
        if p.push is None:
            getter = getattr(turn.api, "push_settings", None)
            if getter is None:
                return Reply("请在票夹小程序「我的」页面管理消息推送。", links=[self.links.profile()], intent="push_settings")
            return Reply(render.push_state(getter() or {}), intent="push_settings")
        setter = getattr(turn.api, "set_push", None)
        if setter is None:
            return Reply(f"请在票夹小程序「我的」页面{'开启' if p.push else '关闭'}消息推送。",
                         links=[self.links.profile()], intent="push_settings")
        setter(p.push)
        text = ("已开启消息推送，票据入账、报销进度变化时会通知您。" if p.push else
                "已关闭消息推送。您仍可以随时发消息给我查询，发送「开启推送」可恢复。")
        return Reply(text, intent="push_settings")

    # -- binding --------------------------------------------------------------------------

    def _bind(self, turn: _Turn, p: nlu.Parsed) -> Reply:
        if p.bind_code and "绑定" in p.compact:
            return Reply("收到绑定码，正在为您重新绑定，请稍候…", bind_code=p.bind_code, intent="bind")
        if p.bind_code:
            return Reply("您已绑定票夹账号。如需换绑，请发送「绑定」加新的绑定码，如「绑定 123456」。", intent="bind")
        return Reply("您已绑定票夹账号，可以直接问我「我的票据」。如需解除绑定，请发送「解绑」。", intent="bind")

    def _unbind(self, turn: _Turn, p: nlu.Parsed) -> Reply:
        return self._ask(turn, {"flow": "confirm_unbind"}, render.UNBIND_QUESTION, "unbind")

    def _unbind_now(self, turn: _Turn) -> Reply:
        turn.api.unbind()
        turn.state.clear()
        return Reply(render.UNBIND_DONE, unbound=True, intent="unbind")
