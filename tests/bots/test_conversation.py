"""The chat bot's conversational core (bots/core): intent table, dates, rendering, and whole
conversations against an in-memory stand-in of the citizen API that answers in the shapes
the real API documents (wallet pages, detail with timeline and ledger, claims,
authorizations, revoke, notifications, public verify, binding)."""
import ast
import copy
import pathlib
from datetime import date, datetime, timedelta, timezone

import pytest

from bots.core import Conversation, MemoryStore, Reply, parse
from bots.core import render
from bots.core.dates import Period, cn_to_int, convert_cn_numerals, find_period
from bots.core.errors import ApiError
from bots.core.nlu import extract_fields, match_names, normalize

CN = timezone(timedelta(hours=8))
NOW = datetime(2025, 12, 15, 10, 30, tzinfo=CN)
TODAY = NOW.date()
APP = "https://piaojia.example.cn/app/"

ZX = {"name": "三亚市中心医院", "credit_code": "12460200MB0001234X"}
RM = {"name": "三亚市人民医院", "credit_code": "12460200MB0005678Y"}
HN = {"name": "海南省人民医院", "credit_code": "12460000MB0009876A"}
FY = {"name": "三亚市妇幼保健院", "credit_code": "12460200MB0004321B"}
HOSPITALS = [ZX["name"], RM["name"], HN["name"], FY["name"]]

YB = {"id": "u-yb", "name": "三亚市医疗保障局", "credit_code": "11460200MB1234567C", "kind": "social_insurance",
      "kind_label": "医保经办机构"}
RS = {"id": "u-rs", "name": "中国人寿保险股份有限公司三亚分公司", "credit_code": "91460200MA5T00001D",
      "kind": "commercial_insurer", "kind_label": "商业保险公司"}
HQ = {"id": "u-hq", "name": "海口市某科技有限公司", "credit_code": "91460100MA5T00002E", "kind": "employer",
      "kind_label": "用人单位"}

STATUS_CODES = {"正常": "issued", "已授权": "authorized", "报销中": "locked", "部分报销": "partial", "已报销": "reimbursed",
                "已冲红": "red_reversed", "已换开": "paper_exchanged", "已作废": "voided"}
LIFECYCLES = {"已冲红": "red_reversed", "已换开": "paper_exchanged", "已作废": "voided"}


def receipt(code, number, issuer, issue_date, total, *, kind="outpatient", status="正常", reimbursed="0.00",
            check_code="ab12cd", title=None, lock_unit=None):
    """A receipt as GET /me/receipts answers it: the wire form plus key and status facets."""
    from decimal import Decimal

    remaining = Decimal(total) - Decimal(reimbursed)
    return {
        "code": code, "number": number, "check_code": check_code,
        "title": title or ("海南省医疗住院收费票据（电子）" if kind == "inpatient" else "海南省医疗门诊收费票据（电子）"),
        "kind": kind, "issue_date": issue_date, "issued_at": f"{issue_date}T09:12:00+08:00",
        "issuer": dict(issuer), "payer": {"name": "张三", "id_type": "resident_id", "id_number": "460200199001011234"},
        "total_amount": total,
        "payments": {"fund_paid": "0.00", "account_paid": "0.00", "cash_paid": total, "other_paid": "0.00"},
        "visit": {"visit_type": kind}, "items": [{"name": "诊疗费", "quantity": "1", "rate": total, "amount": total}],
        "signature": {"alg": "ES256", "value": "MEUCIQDfakefakefake"}, "supervision_signature": None,
        "key": f"{code}-{number}", "province": code[:2], "lifecycle": LIFECYCLES.get(status, "issued"),
        "lifecycle_detail": {"reason": "收费有误"} if status in LIFECYCLES else None,
        "lock": {"unit": dict(lock_unit), "locked_at": "2025-12-12T10:00:00+08:00",
                 "expires_at": "2025-12-19T10:00:00+08:00"} if lock_unit else None,
        "reimbursement": "none" if Decimal(reimbursed) == 0 else ("full" if remaining <= 0 else "partial"),
        "reimbursed_amount": reimbursed, "remaining_amount": f"{max(remaining, Decimal(0)):.2f}",
        "display_status": status,
    }


def base_receipts():
    return [
        receipt("46060125", "0000012345", ZX, "2025-11-20", "356.80"),
        receipt("46060125", "0000012346", ZX, "2025-11-05", "1234.50", kind="inpatient", status="部分报销",
                reimbursed="500.00", check_code="Q7w8E9"),
        receipt("46060125", "0000012350", RM, "2025-12-10", "88.00", status="已授权"),
        receipt("46010125", "0000000777", HN, "2025-10-02", "12800.00", kind="inpatient", status="已报销",
                reimbursed="12800.00"),
        receipt("46060125", "0000012360", RM, "2025-11-20", "45.00"),
        receipt("46060125", "0000012370", FY, "2025-09-14", "66.60", status="已冲红"),
        receipt("46060125", "0000012380", ZX, "2024-06-01", "2100.00", status="报销中", lock_unit=YB),
    ]


def claim(unit, r, status_code, amount=None, reason=None):
    labels = {"authorized": "已授权", "in_progress": "报销中", "reimbursed": "已报销", "rejected": "被拒",
              "revoked": "已撤销", "expired": "已过期", "unlocked": "已解锁"}
    return {"unit": dict(unit), "receipt_key": r["key"], "receipt_title": r["title"], "status": labels[status_code],
            "status_code": status_code, "amount": amount, "reason": reason, "reference": "BX-2025-001",
            "authorized_at": "2025-11-21T10:00:00+08:00", "locked_at": None, "decided_at": None}


class FakeCitizenApi:
    """An in-memory stand-in of bots.api_client.CitizenApi: same methods, same answer shapes,
    the same problem answers (ApiError with Chinese titles), and state that changes (revoked
    grants, read notifications, an ended binding answering 401)."""

    STATUSES = set(STATUS_CODES.values())

    def __init__(self, receipts=None, *, push=True, with_push=True):
        self.wallet = receipts if receipts is not None else base_receipts()
        by_key = {r["key"]: r for r in self.wallet}
        self.calls: list[tuple[str, dict]] = []
        self.bound = True
        self.push_enabled = push
        if not with_push:  # an older client without 消息设置
            self.push_settings = None
            self.set_push = None
        wanted = [(YB, "46060125-0000012346", "reimbursed", {"amount": "500.00"}),
                  (RS, "46060125-0000012350", "authorized", {}),
                  (YB, "46010125-0000000777", "rejected", {"reason": "缺少出院小结"}),
                  (YB, "46060125-0000012380", "in_progress", {})]
        self.claim_items = [claim(unit, by_key[key], code, **extra) for unit, key, code, extra in wanted if key in by_key]
        self.auths = [
            {"id": "auth-yb", "unit": dict(YB), "purpose": "医保报销", "reference": "YB-1",
             "created_at": "2025-12-10T09:00:00+08:00", "expires_at": "2026-01-09T09:00:00+08:00", "revoked_at": None,
             "receipts": [{"key": "46060125-0000012350", "revoked_at": None, "locked": False},
                          {"key": "46060125-0000012380", "revoked_at": None, "locked": True}]},
            {"id": "auth-rs", "unit": dict(RS), "purpose": "商业保险理赔", "reference": "RS-9",
             "created_at": "2025-12-11T09:00:00+08:00", "expires_at": "2026-01-10T09:00:00+08:00", "revoked_at": None,
             "receipts": [{"key": "46060125-0000012345", "revoked_at": None, "locked": False}]},
            {"id": "auth-hq", "unit": dict(HQ), "purpose": "单位报销", "reference": None,
             "created_at": "2025-08-01T09:00:00+08:00", "expires_at": "2025-08-31T09:00:00+08:00",
             "revoked_at": "2025-08-02T09:00:00+08:00",
             "receipts": [{"key": "46060125-0000012345", "revoked_at": "2025-08-02T09:00:00+08:00", "locked": False}]},
        ]
        self.inbox = [
            {"id": "evt-3", "type": "receipt.reimbursed", "title": "报销已到账",
             "body": "三亚市医疗保障局已就住院收费票据报销 500.00 元。可在“我的报销”中查看明细。",
             "receipt_key": "46060125-0000012346", "created_at": "2025-12-14T16:00:00+08:00", "read": False},
            {"id": "evt-2", "type": "receipt.issued", "title": "收到一张新的电子票据",
             "body": "门诊收费票据已存入您的个人数字账户。", "receipt_key": "46060125-0000012350",
             "created_at": "2025-12-10T11:00:00+08:00", "read": False},
            {"id": "evt-1", "type": "authorization.approved", "title": "授权成功",
             "body": "您已同意中国人寿保险股份有限公司三亚分公司的授权请求。", "receipt_key": None,
             "created_at": "2025-12-01T11:00:00+08:00", "read": True},
        ]

    # every call is checked like the server would, and refused once the binding ended
    def _enter(self, name, **kwargs):
        self.calls.append((name, kwargs))
        if not self.bound:
            raise ApiError(401, "invalid_token", "登录已失效，请重新登录")

    def called(self, name):
        return [kw for n, kw in self.calls if n == name]

    def receipts(self, *, q=None, status=None, province=None, issuer=None, date_from=None, date_to=None, limit=20):
        self._enter("receipts", q=q, status=status, province=province, issuer=issuer, date_from=date_from,
                    date_to=date_to, limit=limit)
        if not 1 <= limit <= 100:
            raise ApiError(400, "validation_failed", "请求参数有误")
        if status is not None and status not in self.STATUSES:
            raise ApiError(400, "validation_failed", "请求参数有误")
        for value in (date_from, date_to):
            if value is not None:
                date.fromisoformat(value)  # the API refuses anything but ISO dates
        rows = [r for r in self.wallet
                if (status is None or STATUS_CODES[r["display_status"]] == status)
                and (province is None or r["province"] == province)
                and (issuer is None or r["issuer"]["credit_code"] == issuer)
                and (date_from is None or r["issue_date"] >= date_from)
                and (date_to is None or r["issue_date"] <= date_to)
                and (q is None or q in str(r))]
        rows.sort(key=lambda r: (r["issue_date"], r["key"]), reverse=True)
        return {"items": copy.deepcopy(rows[:limit]), "next_cursor": "c1" if len(rows) > limit else None}

    def receipt(self, key):
        self._enter("receipt", key=key)
        for r in self.wallet:
            if r["key"] == key:
                ledger = [{"unit": {k: YB[k] for k in ("id", "name", "credit_code")}, "outcome": "reimbursed",
                           "amount": r["reimbursed_amount"], "reimbursed_at": "2025-12-01T10:00:00+08:00",
                           "reference": "YB-1", "reason": None}] if r["reimbursed_amount"] != "0.00" else []
                timeline = [{"event": "issued", "at": r["issued_at"], "actor": {"type": "issuer", "id": "i1", "name": r["issuer"]["name"]},
                             "reason": None, "data": None}]
                return {**copy.deepcopy(r), "timeline": timeline, "ledger": ledger}
        raise ApiError(404, "receipt_not_found", "未找到该票据")

    def claims(self):
        self._enter("claims")
        return {"items": copy.deepcopy(self.claim_items)}

    def _status(self, a):
        if a["revoked_at"] or all(r["revoked_at"] for r in a["receipts"]):
            return "revoked"
        return "expired" if a["expires_at"] <= NOW.isoformat() else "active"

    def authorizations(self):
        self._enter("authorizations")
        return {"items": [{**copy.deepcopy(a), "status": self._status(a)} for a in self.auths], "next_cursor": None}

    def revoke(self, authorization_id):
        self._enter("revoke", authorization_id=authorization_id)
        auth = next((a for a in self.auths if a["id"] == authorization_id), None)
        if auth is None:
            raise ApiError(404, "authorization_not_found", "未找到该授权")
        revoked, kept = [], []
        for grant in auth["receipts"]:
            if grant["revoked_at"]:
                continue
            if grant["locked"]:
                kept.append({"key": grant["key"], "reason": "locked", "detail": "报销单位已锁定该票据，锁定结束后方可撤销"})
                continue
            grant["revoked_at"] = NOW.isoformat()
            revoked.append(grant["key"])
        if not kept:
            auth["revoked_at"] = NOW.isoformat()
        return {"id": auth["id"], "revoked": revoked, "kept": kept, "status": self._status(auth)}

    def notifications(self, *, unread=False, limit=10):
        self._enter("notifications", unread=unread, limit=limit)
        rows = [n for n in self.inbox if not (unread and n["read"])]
        return {"items": copy.deepcopy(rows[:limit]), "next_cursor": None,
                "unread_count": sum(1 for n in self.inbox if not n["read"])}

    def mark_read(self, ids=None, all_=False):
        self._enter("mark_read", ids=list(ids or []), all_=all_)
        marked = 0
        for n in self.inbox:
            if not n["read"] and (all_ or n["id"] in (ids or [])):
                n["read"] = True
                marked += 1
        return {"marked": marked, "unread_count": sum(1 for n in self.inbox if not n["read"])}

    def verify(self, *, code, number, check_code, issue_date, total_amount):
        self._enter("verify", code=code, number=number, check_code=check_code, issue_date=issue_date,
                    total_amount=total_amount)
        import re

        if not (re.fullmatch(r"\d{8}", code) and re.fullmatch(r"\d{10}", number) and re.fullmatch(r"[A-Za-z0-9]{6}", check_code)
                and re.fullmatch(r"\d{4}-\d{2}-\d{2}", issue_date) and re.fullmatch(r"\d{1,13}\.\d{2}", total_amount)):
            raise ApiError(400, "validation_failed", "请求参数有误")
        for r in self.wallet:
            if (r["code"], r["number"], r["check_code"], r["issue_date"], r["total_amount"]) == \
                    (code, number, check_code, issue_date, total_amount):
                return {"authentic": True, "key": r["key"], "lifecycle": r["lifecycle"], "display_status": r["display_status"],
                        "reimbursement": r["reimbursement"], "remaining_amount": r["remaining_amount"],
                        "issuer": dict(r["issuer"]), "issue_date": r["issue_date"], "total_amount": r["total_amount"],
                        "title": r["title"]}
        return {"authentic": False}

    def unbind(self):
        self._enter("unbind")
        self.bound = False

    def push_settings(self):
        self._enter("push_settings")
        return {"enabled": self.push_enabled, "quota_remaining": 3}

    def set_push(self, enabled):
        self._enter("set_push", enabled=enabled)
        self.push_enabled = bool(enabled)
        return {"enabled": self.push_enabled}


@pytest.fixture
def api():
    return FakeCitizenApi()


@pytest.fixture
def conv():
    return Conversation(app_url=APP)


class Chat:
    """One chat user talking; keeps every reply to check line bounds."""

    def __init__(self, conv, api, user="wx-user-1", now=NOW):
        self.conv, self.api, self.user, self.now = conv, api, user, now
        self.replies: list[Reply] = []

    def say(self, text, *, later=timedelta(seconds=20)) -> Reply:
        self.now += later
        answer = self.conv.reply(self.user, text, self.api, self.now)
        assert isinstance(answer, Reply)
        assert len(answer.text.splitlines()) <= 12, answer.text
        self.replies.append(answer)
        return answer


@pytest.fixture
def chat(conv, api):
    return Chat(conv, api)


# =======================================================================================
# Understanding: utterance → intent and entities

NOV = ("2025-11-01", "2025-11-30")
TABLE = [
    # receipts
    ("我的票据", "list_receipts", {}),
    ("最近的票据", "list_receipts", {}),
    ("看看我的发票", "list_receipts", {}),
    ("请帮我查一下我的票剧吧😊", "list_receipts", {}),
    ("票局", "list_receipts", {}),
    ("三亚中心医院的票据", "list_receipts", {"hospitals": ["三亚市中心医院"]}),
    ("三亚市中心医院", "list_receipts", {"hospitals": ["三亚市中心医院"]}),
    ("海南人民医院的单据", "list_receipts", {"hospitals": ["海南省人民医院"]}),
    ("妇幼保健院的", "list_receipts", {"hospitals": ["三亚市妇幼保健院"]}),
    ("三亚的票据", "list_receipts", {"hospitals": ["三亚市中心医院", "三亚市人民医院", "三亚市妇幼保健院"]}),
    ("医院的票据", "list_receipts", {"hospitals": ["三亚市中心医院", "三亚市人民医院", "海南省人民医院"]}),
    ("上个月的票据", "list_receipts", {"period": NOV}),
    ("上月票据", "list_receipts", {"period": NOV}),
    ("11月的票据", "list_receipts", {"period": NOV}),
    ("１１月的票据", "list_receipts", {"period": NOV}),
    ("十一月份的票据", "list_receipts", {"period": NOV}),
    ("2025年11月的票据", "list_receipts", {"period": NOV}),
    ("二〇二五年十一月的收据", "list_receipts", {"period": NOV}),
    ("这个月的票据", "list_receipts", {"period": ("2025-12-01", "2025-12-31")}),
    ("本月", "list_receipts", {"period": ("2025-12-01", "2025-12-31")}),
    ("今天的票", "list_receipts", {"period": ("2025-12-15", "2025-12-15")}),
    ("昨天开的票", "list_receipts", {"period": ("2025-12-14", "2025-12-14")}),
    ("最近一周的票据", "list_receipts", {"period": ("2025-12-09", "2025-12-15")}),
    ("最近三个月的票据", "list_receipts", {"period": ("2025-09-16", "2025-12-15")}),
    ("今年的票据", "list_receipts", {"period": ("2025-01-01", "2025-12-31")}),
    ("去年的票据有哪些", "list_receipts", {"period": ("2024-01-01", "2024-12-31")}),
    ("2025-11-20的票据", "list_receipts", {"period": ("2025-11-20", "2025-11-20")}),
    ("上个月的", "list_receipts", {"period": NOV}),
    ("住院的票据", "list_receipts", {"kind": "inpatient"}),
    ("门诊票据", "list_receipts", {"kind": "outpatient"}),
    ("已报销的票据", "list_receipts", {"status": "reimbursed"}),
    ("报销中的票据", "list_receipts", {"status": "locked"}),
    ("哪些票据还没报销", "list_receipts", {"status": "issued"}),
    ("作废的票据", "list_receipts", {"status": "voided"}),
    ("去年在海南省人民医院花了多少钱", "list_receipts",
     {"hospitals": ["海南省人民医院"], "period": ("2024-01-01", "2024-12-31"), "want_total": True}),
    ("三亚中心医院上个月住院的票据", "list_receipts", {"hospitals": ["三亚市中心医院"], "period": NOV, "kind": "inpatient"}),
    # detail
    ("46060125-0000012345", "receipt_detail", {"key": "46060125-0000012345"}),
    ("46060125 0000012345", "receipt_detail", {"key": "46060125-0000012345"}),
    ("４６０６０１２５０００００１２３４５", "receipt_detail", {"key": "46060125-0000012345"}),
    ("查一下票据460601250000012345的详情", "receipt_detail", {"key": "46060125-0000012345"}),
    ("三亚中心医院11月20日那张", "receipt_detail", {"hospitals": ["三亚市中心医院"], "period": ("2025-11-20", "2025-11-20")}),
    ("三亚中心医院十一月二十号那张票", "receipt_detail",
     {"hospitals": ["三亚市中心医院"], "period": ("2025-11-20", "2025-11-20")}),
    ("号码0000012345的票据", "receipt_detail", {"number": "0000012345"}),
    ("最新那张", "receipt_detail", {"latest": True}),
    ("最近一张票据", "receipt_detail", {"latest": True}),
    # claims
    ("报销进度", "claims", {}),
    ("我的报销", "claims", {}),
    ("理赔到哪了", "claims", {}),
    ("报销了吗", "claims", {}),
    ("报消了没有啊", "claims", {}),
    ("钱到账了吗？", "claims", {}),
    ("醫保報銷進度", "claims", {}),
    # verify
    ("验真", "verify", {}),
    ("查验票据", "verify", {}),
    ("这张票是真的吗", "verify", {}),
    ("帮我验证一下真伪", "verify", {}),
    ("验真 46060125 0000012345 ab12cd 2025-11-20 ¥356.80", "verify",
     {"fields": {"code": "46060125", "number": "0000012345", "check_code": "ab12cd", "issue_date": "2025-11-20",
                 "total_amount": "356.80"}}),
    # authorizations, revoke, scan
    ("我的授权", "authorizations", {}),
    ("授权给了谁", "authorizations", {}),
    ("收权记录", "authorizations", {}),
    ("撤销授权", "revoke", {}),
    ("取消对医保局的授权", "revoke", {}),
    ("撤消授权", "revoke", {}),
    ("不想授权给人寿了", "revoke", {}),
    ("怎么授权", "authorize", {}),
    ("扫码", "authorize", {}),
    ("我要报销", "authorize", {}),
    # notifications and push
    ("消息", "notifications", {"unread_only": False}),
    ("有新消息吗", "notifications", {"unread_only": True}),
    ("未读通知", "notifications", {"unread_only": True}),
    ("全部标为已读", "notifications", {"mark_all": True}),
    ("消息设置", "push_settings", {"push": None}),
    ("关闭推送", "push_settings", {"push": False}),
    ("别再给我发消息了", "push_settings", {"push": False}),
    ("开启推送", "push_settings", {"push": True}),
    ("打开通知", "push_settings", {"push": True}),
    # binding
    ("解绑", "unbind", {}),
    ("取消绑定", "unbind", {}),
    ("解除绑定吧", "unbind", {}),
    ("绑定 123456", "bind", {"bind_code": "123456"}),
    ("绑定码：１２３４５６", "bind", {"bind_code": "123456"}),
    ("123456", "bind", {"bind_code": "123456"}),
    ("怎么绑定", "bind", {"bind_code": None}),
    # help, greeting, small talk
    ("帮助", "help", {}),
    ("你能做什么", "help", {}),
    ("菜单", "help", {}),
    ("?", "help", {}),
    ("？", "help", {}),
    ("你好", "greeting", {}),
    ("在吗", "greeting", {}),
    ("您好呀👋", "greeting", {}),
    ("谢谢", "thanks", {}),
    # answers to questions
    ("确认", "confirm", {}),
    ("好的", "confirm", {}),
    ("👍", "confirm", {}),
    ("算了", "deny", {}),
    ("不要", "deny", {}),
    ("取消", "deny", {}),
    ("1", "choice", {"choice": 1}),
    ("第一个", "choice", {"choice": 1}),
    ("第２个", "choice", {"choice": 2}),
    ("第三张", "choice", {"choice": 3}),
    # unknown
    ("今天天气怎么样", "unknown", {}),
    ("随便说点什么", "unknown", {}),
    ("😀😀", "unknown", {}),
]


@pytest.mark.parametrize("text,intent,entities", TABLE, ids=[row[0] for row in TABLE])
def test_understanding(text, intent, entities):
    p = parse(text, today=TODAY, hospitals=HOSPITALS)
    assert p.intent == intent, (text, p)
    for name, expected in entities.items():
        value = getattr(p, name)
        if name == "period":
            assert value is not None and (value.start.isoformat(), value.end.isoformat()) == expected, (text, value)
        elif name == "hospitals":
            assert sorted(value) == sorted(expected), (text, value)
        elif name == "fields":
            assert {k: value.get(k) for k in expected} == expected, (text, value)
        else:
            assert value == expected, (text, name, value)


def test_table_is_varied():
    assert len(TABLE) >= 60
    assert len({intent for _, intent, _ in TABLE}) >= 16


def test_normalisation():
    assert normalize("１１月ＡＢ１２ｃｄ") == "11月AB12cd"  # full width → half width, case kept
    assert normalize("十一月二十日") == "11月20日"
    assert normalize("二〇二五年十二月") == "2025年12月"
    assert normalize("三亚中心医院") == "三亚中心医院"  # 三 stays a word here
    assert normalize("看一下第一个") == "看一下第1个"
    assert normalize("票据😊🙏🏻") == "票据"
    assert cn_to_int("一百零五") == 105 and cn_to_int("十") == 10 and cn_to_int("二十三") == 23
    assert convert_cn_numerals("两张票") == "2张票"


def test_dates_roll_over_the_year():
    jan = date(2026, 1, 5)
    assert find_period("上个月", jan)[0] == Period(date(2025, 12, 1), date(2025, 12, 31))
    assert find_period("11月", jan)[0] == Period(date(2025, 11, 1), date(2025, 11, 30))  # not a future month
    assert find_period("1月", jan)[0] == Period(date(2026, 1, 1), date(2026, 1, 31))
    assert find_period("12月20日", jan)[0] == Period(date(2025, 12, 20), date(2025, 12, 20))
    assert find_period("20号", jan)[0] == Period(date(2025, 12, 20), date(2025, 12, 20))
    assert find_period("上周", date(2025, 12, 17))[0] == Period(date(2025, 12, 8), date(2025, 12, 14))
    assert find_period("今年3月", jan)[0] == Period(date(2026, 3, 1), date(2026, 3, 31))
    assert find_period("去年3月", jan)[0] == Period(date(2025, 3, 1), date(2025, 3, 31))
    assert find_period("随便", jan) is None


def test_verify_fields_by_label_and_shape():
    got = extract_fields("代码46060125，号码0000012345，校验码Ab12Cd，日期2025年11月20日，金额1,234.50元", TODAY)
    assert got == {"code": "46060125", "number": "0000012345", "check_code": "Ab12Cd", "issue_date": "2025-11-20",
                   "total_amount": "1234.50"}
    assert extract_fields("356元8角", TODAY) == {"total_amount": "356.80"}
    assert extract_fields("¥356.8", TODAY) == {"total_amount": "356.80"}
    assert extract_fields("20251120", TODAY, expect="issue_date") == {"issue_date": "2025-11-20"}
    assert extract_fields("11月20日", TODAY) == {"issue_date": "2025-11-20"}
    assert extract_fields("356", TODAY, expect="total_amount") == {"total_amount": "356.00"}
    assert extract_fields("123456", TODAY, expect="check_code") == {"check_code": "123456"}
    assert extract_fields("123456", TODAY) == {}  # a bare 6-digit number is no check code out of context
    assert extract_fields("随便", TODAY, expect="code") == {}


def test_hospital_matching_is_fuzzy_but_not_generic():
    assert match_names("三亚人民医院", HOSPITALS) == ["三亚市人民医院"]
    assert match_names("中心医院", HOSPITALS) == ["三亚市中心医院"]
    assert match_names("我的报销进度", HOSPITALS) == []
    assert match_names("住院的票据", HOSPITALS) == []
    assert sorted(match_names("人民医院", HOSPITALS)) == ["三亚市人民医院", "海南省人民医院"]


# =======================================================================================
# Rendering

def test_money_and_dates():
    assert render.money("1234.5") == "¥1,234.50"
    assert render.money("1234567.891") == "¥1,234,567.89"
    assert render.money("0") == "¥0.00"
    assert render.money(None) == "—"
    assert render.cn_date("2025-11-20") == "2025年11月20日"
    assert render.cn_date("2025-11-30T20:00:00+00:00") == "2025年12月1日"  # read in China time
    assert render.period_label(Period(date(2025, 11, 1), date(2025, 11, 30))) == "2025年11月"
    assert render.period_label(Period(date(2025, 1, 1), date(2025, 12, 31))) == "2025年"


def test_core_never_imports_the_backend():
    root = pathlib.Path(__file__).resolve().parents[2] / "bots" / "core"
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert not name.split(".")[0] in ("backend", "flask", "sqlalchemy", "requests"), (path.name, name)
                assert name != "bots.api_client", path.name


# =======================================================================================
# Not bound

def test_unbound_user_is_told_how_to_bind(conv):
    for text in ("我的票据", "报销进度", "你好", "验真"):
        answer = conv.reply("wx-new", text, None, NOW)
        assert "请在票夹小程序「我的」页面获取绑定码，发送「绑定 123456」给我" in answer.text
        assert answer.bind_code is None
    help_ = conv.reply("wx-new", "帮助", None, NOW)
    assert "查票据" in help_.text and "绑定 123456" in help_.text


@pytest.mark.parametrize("text", ["绑定 654321", "654321", "６５４３２１", "绑定码：654321"])
def test_binding_code_goes_back_to_the_adapter(conv, text):
    answer = conv.reply("wx-new", text, None, NOW)
    assert answer.bind_code == "654321"
    assert "绑定" in answer.text


def test_welcome_and_failed_binding(conv):
    assert "张三" in conv.welcome("张三").text
    failed = conv.bind_failed(ApiError(400, "invalid_binding_code", "绑定码无效或已过期，请在小程序中重新获取"))
    assert "绑定码无效或已过期" in failed.text and "绑定 123456" in failed.text


def test_bound_user_sending_a_bare_code_is_not_rebound(chat):
    assert chat.say("123456").bind_code is None
    assert chat.say("绑定 123456").bind_code == "123456"


# =======================================================================================
# Receipts

def test_list_shows_five_and_counts_the_rest(chat):
    answer = chat.say("我的票据")
    lines = answer.text.splitlines()
    assert "共7张" in lines[0]
    numbered = [line for line in lines if line[:2] in {f"{i}." for i in range(1, 10)}]
    assert len(numbered) == 5
    assert numbered[0].startswith("1. 2025年12月10日 三亚市人民医院")  # newest first
    assert "还有2张，在小程序查看" in answer.text
    assert ("打开票夹", APP + "#/wallet") in answer.links
    assert answer.done


def test_list_by_hospital_uses_the_issuer_filter(chat, api):
    answer = chat.say("三亚中心医院的票据")
    filtered = [kw for kw in api.called("receipts") if kw["issuer"]]
    assert filtered and filtered[-1]["issuer"] == ZX["credit_code"]
    assert "三亚市中心医院" in answer.text
    assert "三亚市人民医院" not in answer.text and "海南省人民医院" not in answer.text
    assert "¥1,234.50" in answer.text and "¥356.80" in answer.text  # thousands separator


def test_list_by_month(chat, api):
    answer = chat.say("上个月的票据")
    call = api.called("receipts")[-1]
    assert (call["date_from"], call["date_to"]) == ("2025-11-01", "2025-11-30")
    assert "2025年11月" in answer.text and "共3张" in answer.text
    assert "2025年10月2日" not in answer.text


def test_list_by_kind_and_status(chat, api):
    assert "住院" in chat.say("住院的票据").text
    assert all(r["kind"] == "inpatient" for r in api.wallet if r["issue_date"] in chat.replies[-1].text)
    answer = chat.say("已报销的票据")
    assert api.called("receipts")[-1]["status"] == "reimbursed"
    assert "海南省人民医院" in answer.text and "¥12,800.00" in answer.text


def test_total_spent(chat):
    answer = chat.say("在三亚市中心医院一共花了多少钱")
    assert "合计金额：¥3,691.30" in answer.text  # 356.80 + 1234.50 + 2100.00


def test_empty_result_says_so(chat):
    answer = chat.say("今天的票据")
    assert answer.text.startswith("没有找到")


def test_ambiguous_hospital_is_asked(chat, api):
    question = chat.say("三亚医院上个月的票据")
    assert not question.done
    assert "哪家医院" in question.text
    options = [line for line in question.text.splitlines() if line[:2] in ("1.", "2.")]
    assert sorted(line[3:] for line in options) == ["三亚市中心医院", "三亚市人民医院"]
    answer = chat.say(next(line[0] for line in options if "人民" in line))
    assert answer.done
    call = api.called("receipts")[-1]
    assert call["issuer"] == RM["credit_code"] and call["date_from"] == "2025-11-01"  # the month was kept
    assert "三亚市人民医院" in answer.text and "¥45.00" in answer.text


def test_ambiguous_hospital_answered_by_name(chat):
    chat.say("三亚的票据")
    answer = chat.say("妇幼保健院")
    assert "三亚市妇幼保健院" in answer.text and "已冲红" in answer.text


def test_detail_by_key(chat, api):
    answer = chat.say("46060125-0000012346")
    assert api.called("receipt")[-1] == {"key": "46060125-0000012346"}
    assert "三亚市中心医院" in answer.text
    assert "2025年11月5日" in answer.text
    assert "¥1,234.50" in answer.text and "部分报销" in answer.text
    assert "已报销 ¥500.00，剩余可报 ¥734.50" in answer.text
    assert answer.links == [("查看票据详情", APP + "#/receipt/46060125-0000012346")]


def test_detail_of_unknown_key_is_polite(chat):
    answer = chat.say("46060125-9999999999")
    assert answer.text == "抱歉，未找到该票据。"


def test_detail_by_hospital_and_day(chat, api):
    answer = chat.say("三亚中心医院11月20日那张")
    assert api.called("receipt")[-1] == {"key": "46060125-0000012345"}
    assert "¥356.80" in answer.text and "2025年11月20日" in answer.text


def test_detail_with_several_matches_asks_which(conv):
    wallet = base_receipts() + [receipt("46060125", "0000012399", ZX, "2025-11-20", "20.00")]
    chat = Chat(conv, FakeCitizenApi(wallet))
    question = chat.say("三亚中心医院11月20日那张")
    assert not question.done and "哪一张" in question.text
    assert "¥356.80" in question.text and "¥20.00" in question.text
    answer = chat.say("第二张")
    assert answer.done and "0000012345" in answer.text  # sorted by key descending: 12399 first, then 12345


def test_number_from_list(chat, api):
    chat.say("我的票据")
    answer = chat.say("2")
    assert api.called("receipt")[-1] == {"key": "46060125-0000012360"}  # the second line of the list
    assert "三亚市人民医院" in answer.text and "¥45.00" in answer.text


def test_unusable_receipt_says_so(chat):
    answer = chat.say("46060125-0000012370")
    assert "已冲红" in answer.text and "不能再用于报销" in answer.text


# =======================================================================================
# Claims, authorizations, notifications, push

def test_claims(chat):
    answer = chat.say("理赔到哪了")
    assert "共4条" in answer.text
    assert "已报销 ¥500.00" in answer.text
    assert "被拒（缺少出院小结）" in answer.text
    assert "报销中" in answer.text and "已授权" in answer.text
    assert answer.links == [("查看我的报销", APP + "#/claims")]


def test_claims_of_one_unit(chat):
    answer = chat.say("人寿那边报销进度怎样了")
    assert "共1条" in answer.text and "已授权" in answer.text and "医疗保障局" not in answer.text


def test_authorizations(chat):
    answer = chat.say("授权给了谁")
    assert "生效中的授权2个" in answer.text
    assert "三亚市医疗保障局（医保经办机构）·2张票据·2026年1月9日到期" in answer.text
    assert "另有1个已撤销或过期的授权" in answer.text
    assert answer.links == [("管理我的授权", APP + "#/authorizations")]


def test_revoke_named_unit_with_confirmation(chat, api):
    question = chat.say("取消人寿的授权")
    assert not question.done
    assert "确认撤销对「中国人寿保险股份有限公司三亚分公司」的授权吗" in question.text
    assert api.called("revoke") == []
    answer = chat.say("确认")
    assert api.called("revoke") == [{"authorization_id": "auth-rs"}]
    assert "已撤销对「中国人寿保险股份有限公司三亚分公司」的授权（1张票据）" in answer.text
    assert answer.done


def test_revoke_cancelled(chat, api):
    chat.say("撤销医保局的授权")
    answer = chat.say("算了")
    assert api.called("revoke") == []
    assert "已取消" in answer.text
    assert chat.say("确认").text == render.ACK  # nothing is pending any more
    assert api.called("revoke") == []


def test_revoke_ambiguous_lists_and_accepts_an_ordinal(chat, api):
    question = chat.say("撤销授权")
    assert "1. 三亚市医疗保障局" in question.text and "2. 中国人寿保险股份有限公司三亚分公司" in question.text
    assert "海口市某科技" not in question.text  # revoked ones are not offered
    confirm = chat.say("第一个")
    assert "三亚市医疗保障局" in confirm.text and not confirm.done
    answer = chat.say("是的")
    assert api.called("revoke") == [{"authorization_id": "auth-yb"}]
    # one receipt of that grant is locked by the unit: the API kept it and the reply says why
    assert "已撤销对「三亚市医疗保障局」的授权（1张票据）" in answer.text
    assert "另有1张票据未能撤销：报销单位已锁定该票据，锁定结束后方可撤销" in answer.text


def test_revoke_bad_ordinal_asks_again(chat, api):
    chat.say("撤销授权")
    again = chat.say("5")
    assert "1到2" in again.text and not again.done
    chat.say("2")
    chat.say("确认")
    assert api.called("revoke") == [{"authorization_id": "auth-rs"}]


def test_revoke_with_no_active_authorization(conv):
    api = FakeCitizenApi()
    api.auths = api.auths[2:]
    answer = Chat(conv, api).say("撤销授权")
    assert "没有生效中的授权" in answer.text and answer.done


def test_scan_and_approve_happen_in_the_mini_app(chat):
    answer = chat.say("我要授权给医保局")
    assert "扫码" in answer.text
    assert answer.links == [("打开扫码授权", APP + "#/scan")]


def test_notifications_are_marked_read_after_showing(chat, api):
    answer = chat.say("有新消息吗")
    assert "您有2条未读消息" in answer.text
    assert "报销已到账" in answer.text and "授权成功" not in answer.text
    assert api.called("mark_read") == [{"ids": ["evt-3", "evt-2"], "all_": False}]
    assert all(n["read"] for n in api.inbox)
    assert "以上消息已标为已读" in answer.text
    assert chat.say("有新消息吗").text == "暂时没有新消息。"


def test_mark_all_read(chat, api):
    answer = chat.say("全部标为已读")
    assert api.called("mark_read") == [{"ids": [], "all_": True}]
    assert "已将全部消息标为已读" in answer.text


def test_push_settings(chat, api):
    assert "已开启" in chat.say("消息设置").text
    answer = chat.say("关闭推送")
    assert api.called("set_push") == [{"enabled": False}] and not api.push_enabled
    assert "已关闭消息推送" in answer.text
    assert "已关闭" in chat.say("推送设置").text
    chat.say("开启推送")
    assert api.push_enabled


def test_push_without_client_support_points_to_the_mini_app(conv):
    chat = Chat(conv, FakeCitizenApi(with_push=False))
    answer = chat.say("关闭推送")
    assert "小程序" in answer.text and answer.links


# =======================================================================================
# Verify

def test_verify_asks_one_field_at_a_time(chat, api):
    steps = [
        ("这张票是真的吗", "票据代码"),
        ("46060125", "票据号码"),
        ("０００００１２３４５", "校验码"),
        ("ab12cd", "开票日期"),
        ("二〇二五年十一月二十日", "票据金额"),
    ]
    for text, asked in steps:
        answer = chat.say(text)
        assert not answer.done
        prompt = answer.text.splitlines()
        assert any(line.startswith("请发送" + asked) for line in prompt), answer.text
        # exactly one field is asked for
        assert sum(line.startswith("请发送") for line in prompt) == 1
    assert api.called("verify") == []
    answer = chat.say("356.8元")
    assert answer.done
    assert api.called("verify") == [{"code": "46060125", "number": "0000012345", "check_code": "ab12cd",
                                     "issue_date": "2025-11-20", "total_amount": "356.80"}]
    assert "查验通过" in answer.text and "三亚市中心医院" in answer.text and "¥356.80" in answer.text


def test_verify_several_fields_in_one_message(chat, api):
    first = chat.say("验真 46060125-0000012346")
    assert "校验码" in first.text.splitlines()[-2] or "请发送校验码" in first.text
    answer = chat.say("校验码 Q7w8E9，2025-11-05，金额¥1,234.50")
    assert api.called("verify")[-1]["total_amount"] == "1234.50"
    assert "查验通过" in answer.text and "部分报销" in answer.text and "剩余可报销金额：¥734.50" in answer.text


def test_verify_not_authentic(chat, api):
    chat.say("验真")
    answer = chat.say("46060125 0000012345 ab12cd 2025-11-20 999.00")
    assert api.called("verify")[-1]["total_amount"] == "999.00"
    assert "查验未通过" in answer.text and answer.done


def test_verify_warns_about_an_unusable_receipt(chat):
    chat.say("查验")
    answer = chat.say("代码46060125 号码0000012370 校验码ab12cd 日期2025-09-14 金额66.60")
    assert "查验通过" in answer.text and "已冲红，不能用于报销" in answer.text


def test_verify_reasks_then_gives_up_and_can_be_cancelled(chat, api):
    chat.say("验真")
    again = chat.say("不知道在哪")
    assert "没有识别到票据代码" in again.text and not again.done
    chat.say("呃")
    gave_up = chat.say("嗯？")
    assert "已退出查验" in gave_up.text and gave_up.done
    chat.say("验真")
    chat.say("46060125")
    cancelled = chat.say("取消")
    assert "已退出查验" in cancelled.text and api.called("verify") == []


def test_verify_can_be_left_for_another_question(chat, api):
    chat.say("验真")
    answer = chat.say("报销进度")
    assert "报销进度" in answer.text and api.called("claims")
    # the next number is not taken as a verify field any more
    assert chat.say("46060125").intent == "unknown"


def test_verify_rate_limited_is_polite(chat, api):
    def limited(**kwargs):
        raise ApiError(429, "proof_locked", "该票据查验错误次数过多，已暂停校验码查验")

    api.verify = limited
    chat.say("验真")
    answer = chat.say("46060125 0000012345 ab12cd 2025-11-20 356.80")
    assert answer.text == "抱歉，该票据查验错误次数过多，已暂停校验码查验。"
    assert chat.say("46060125").intent == "unknown"  # the question was dropped


# =======================================================================================
# Unbinding and ended bindings

def test_unbind_with_confirmation(chat, api):
    question = chat.say("解绑")
    assert not question.done and "确认解除绑定吗" in question.text
    assert api.called("unbind") == []
    answer = chat.say("确认")
    assert api.called("unbind") == [{}]
    assert answer.unbound and "已解除绑定" in answer.text and "绑定 123456" in answer.text


def test_unbind_cancelled(chat, api):
    chat.say("取消绑定")
    answer = chat.say("不了")
    assert api.called("unbind") == [] and not answer.unbound and "绑定保持不变" in answer.text


def test_401_means_the_binding_ended(chat, api):
    chat.say("验真")  # a pending question that must be forgotten
    api.bound = False  # e.g. the citizen unbound in the mini-app
    answer = chat.say("我的票据")
    assert answer.unbound
    assert "绑定已失效" in answer.text and "发送「绑定 123456」给我" in answer.text
    api.bound = True
    assert chat.say("46060125").intent == "unknown"


def test_other_api_errors_use_the_title(chat, api):
    def broken(**kwargs):
        raise ApiError(503, "api_unreachable", "票夹服务暂时无法访问，请稍后再试")

    api.claims = lambda: broken()
    answer = chat.say("报销进度")
    assert answer.text == "抱歉，票夹服务暂时无法访问，请稍后再试。" and not answer.unbound
    api.claims = lambda: (_ for _ in ()).throw(ApiError(500, "error", None))
    assert chat.say("报销进度").text == "抱歉，票夹服务暂时不可用，请稍后再试。"


# =======================================================================================
# Small talk, unknown, state

def test_help_greeting_unknown(chat):
    assert "查票据" in chat.say("你能做什么").text
    assert chat.say("在吗").text.startswith("您好")
    unknown = chat.say("今天天气怎么样")
    assert "没太明白" in unknown.text
    suggestions = [line for line in unknown.text.splitlines() if line.startswith("· ")]
    assert len(suggestions) == 3


def test_pending_question_expires(conv, api):
    chat = Chat(conv, api)
    chat.say("撤销授权")
    late = chat.say("1", later=timedelta(minutes=11))
    assert late.intent == "choice" and "请先发送「我的票据」" in late.text
    assert api.called("revoke") == []


def test_users_do_not_share_state(conv, api):
    a, b = Chat(conv, api, user="a"), Chat(conv, api, user="b")
    a.say("解绑")
    assert b.say("确认").text == render.ACK
    assert api.called("unbind") == []


def test_pluggable_store(api):
    class DictStore:
        def __init__(self):
            self.data, self.ttls = {}, {}

        def get(self, key):
            return self.data.get(key)

        def set(self, key, value, ttl=None):
            import json

            self.data[key] = json.loads(json.dumps(value))  # a store keeps JSON only
            self.ttls[key] = ttl

        def delete(self, key):
            self.data.pop(key, None)

    store = DictStore()
    conv = Conversation(app_url="/app/", store=store)
    chat = Chat(conv, api)
    chat.say("撤销授权")
    assert store.data["conv:wx-user-1"]["pending"]["flow"] == "choose_auth"
    assert store.ttls["conv:wx-user-1"] == 600
    chat.say("1")
    chat.say("好的")
    assert api.called("revoke") == [{"authorization_id": "auth-yb"}]
    assert chat.replies[-1].links == [("管理我的授权", "/app/#/authorizations")]


def test_memory_store_expires():
    clock = [1000.0]
    store = MemoryStore(clock=lambda: clock[0])
    store.set("k", {"a": 1}, ttl=60)
    assert store.get("k") == {"a": 1}
    clock[0] += 61
    assert store.get("k") is None


def test_naive_now_is_china_time(conv, api):
    answer = conv.reply("naive", "今天的票据", api, datetime(2025, 12, 10, 9, 0))
    assert "2025年12月10日" in answer.text and "¥88.00" in answer.text


def test_no_reply_is_longer_than_twelve_lines(conv):
    wallet = base_receipts() + [receipt("46060125", f"00000200{i:02d}", ZX, f"2025-08-{i + 1:02d}", f"{i}0.00")
                                for i in range(30)]
    api = FakeCitizenApi(wallet)
    api.inbox = [dict(api.inbox[0], id=f"evt-x{i}", read=False) for i in range(20)]
    chat = Chat(conv, api)
    for text, _, _ in TABLE:
        chat.say(text)
        if not chat.replies[-1].done:
            chat.say("取消")
    for text in ("三亚中心医院的票据", "8月的票据", "消息", "撤销授权", "验真", "帮助"):
        chat.say(text)
    assert max(len(r.text.splitlines()) for r in chat.replies) <= 12
    assert any("还有" in r.text for r in chat.replies)


# =======================================================================================
# Refinements and robustness

def test_revoking_another_unit_while_confirming_starts_over(chat, api):
    chat.say("撤销医保局的授权")
    switched = chat.say("撤销人寿的授权")
    assert api.called("revoke") == []  # not the 医保局 one
    assert "中国人寿保险股份有限公司三亚分公司" in switched.text and not switched.done
    chat.say("确认撤销")
    assert api.called("revoke") == [{"authorization_id": "auth-rs"}]


def test_saying_the_action_again_confirms_it(chat, api):
    chat.say("撤销人寿的授权")
    chat.say("撤销吧")
    assert api.called("revoke") == [{"authorization_id": "auth-rs"}]


def test_negated_answer_does_not_confirm(chat, api):
    chat.say("撤销人寿的授权")
    answer = chat.say("不要撤销")
    assert api.called("revoke") == [] and "授权保持不变" in answer.text


def test_issuers_are_fetched_once_even_for_an_empty_wallet(conv):
    api = FakeCitizenApi([])
    chat = Chat(conv, api)
    for _ in range(3):
        assert chat.say("我的票据").text.startswith("没有找到")
    assert sum(1 for kw in api.called("receipts") if kw["limit"] == 100) == 1


def test_letters_only_check_code_only_when_asked():
    assert extract_fields("abcdef", TODAY, expect="check_code", verify=True) == {"check_code": "abcdef"}
    assert extract_fields("thanks", TODAY, expect="check_code", verify=True) == {}
    assert extract_fields("abcdef", TODAY, expect="code", verify=True) == {}
    assert extract_fields("A1b2C3", TODAY) == {"check_code": "A1b2C3"}  # letters and digits: a check code anywhere


def test_plain_text_carries_the_links(chat):
    answer = chat.say("46060125-0000012345")
    assert answer.plain().endswith("查看票据详情：" + APP + "#/receipt/46060125-0000012345")


ODD = ["", "   ", "。。。", "a" * 500, "票" * 300, "\u200b\u200d", "🧾" * 10, "第0个", "0", "99", "绑定", "撤销", "验真验真",
       "2025-13-45的票据", "2月30日的票据", "¥", "¥abc", "代码", "12345678901234567890", "<script>", "'; drop table",
       "第一人民医院", "🙏请🙏", "ＨＥＬＰ", "退出", "嗯"]


@pytest.mark.parametrize("text", ODD)
def test_odd_messages_get_a_proper_answer(chat, text):
    answer = chat.say(text)
    assert answer.text and "出了点问题" not in answer.text


def test_random_text_never_breaks_understanding_or_the_dialog():
    from hypothesis import HealthCheck, given, settings, strategies as st

    alphabet = st.sampled_from(list("票据报销授权撤销验真消息医院三亚中心人民月日号年第个张确认取消0123456789１２abAB-¥元.，。？ 😀"))

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.text(alphabet, max_size=30), min_size=1, max_size=4))
    def run(messages):
        p = parse(messages[0], today=TODAY, hospitals=HOSPITALS)
        assert p.intent in ("bind", "list_receipts", "receipt_detail", "claims", "verify", "authorizations", "revoke",
                            "authorize", "notifications", "push_settings", "unbind", "help", "greeting", "thanks",
                            "confirm", "deny", "choice", "unknown")
        chat = Chat(Conversation(app_url=APP), FakeCitizenApi())
        for text in messages:
            answer = chat.say(text)
            assert answer.text and "出了点问题" not in answer.text

    run()


DEMO_UNITS = ["三亚市医疗保障局（演示柜台）", "中国人寿广东省分公司（演示）", "中国人寿海南分公司（演示）",
              "中国人寿湖北省分公司（演示）", "广州市医疗保障局（演示柜台）"]
DEMO_HOSPITALS = ["三亚中心医院", "上海交通大学医学院附属瑞金医院海南医院", "广东省中医院海南医院"]


@pytest.mark.parametrize("text,expected", [
    ("撤销海南人寿的授权", ["中国人寿海南分公司（演示）"]),  # words in another order than the name's
    ("撤销广东人寿", ["中国人寿广东省分公司（演示）"]),
    ("取消三亚医保局的授权", ["三亚市医疗保障局（演示柜台）"]),  # 医保局 for 医疗保障局
    ("撤销人寿的授权", ["中国人寿广东省分公司（演示）", "中国人寿海南分公司（演示）", "中国人寿湖北省分公司（演示）"]),
    ("撤销授权", []),
])
def test_unit_names_match_in_any_order(text, expected):
    from bots.core.nlu import UNIT_GENERIC

    assert sorted(match_names(text, DEMO_UNITS, generic=UNIT_GENERIC)) == sorted(expected)


@pytest.mark.parametrize("text,expected", [
    ("瑞金医院的票据", ["上海交通大学医学院附属瑞金医院海南医院"]),
    ("省中医的票据", ["广东省中医院海南医院"]),
    ("三亚中心医院上个月的", ["三亚中心医院"]),
    ("海南医院的票据", ["上海交通大学医学院附属瑞金医院海南医院", "广东省中医院海南医院"]),
])
def test_demo_hospitals(text, expected):
    assert sorted(parse(text, today=TODAY, hospitals=DEMO_HOSPITALS).hospitals) == sorted(expected)


@pytest.mark.parametrize("text", ["算了不查了", "不验了", "退出查验"])
def test_verify_left_in_words(chat, api, text):
    chat.say("验真")
    answer = chat.say(text)
    assert "已退出查验" in answer.text and answer.done and api.called("verify") == []


def test_choice_declined_in_words(chat, api):
    chat.say("撤销授权")
    answer = chat.say("算了不撤了")
    assert answer.text == "好的，已取消。" and api.called("revoke") == []
