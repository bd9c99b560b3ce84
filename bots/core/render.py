"""Phone-sized Chinese answers: a few lines each, amounts as ¥1,234.50, dates as
2025年11月20日, links into the mini-app where a screen does it better."""
import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from bots.core.dates import CHINA, Period

MAX_LINES = 12
MAX_ITEMS = 5

BIND_HINT = "请在票夹小程序「我的」页面获取绑定码，发送「绑定 123456」给我"
KIND_LABELS = {"outpatient": "门诊", "inpatient": "住院"}
STATUS_LABELS = {"issued": "正常", "authorized": "已授权", "locked": "报销中", "partial": "部分报销", "reimbursed": "已报销",
                 "red_reversed": "已冲红", "paper_exchanged": "已换开", "voided": "已作废"}
LIFECYCLE_LABELS = {"red_reversed": "已冲红", "paper_exchanged": "已换开", "voided": "已作废"}
UNUSABLE = {"已冲红", "已换开", "已作废"}
STATUS_FILTER_LABELS = {"issued": "未报销", "authorized": "已授权", "locked": "报销中", "partial": "部分报销",
                        "reimbursed": "已报销", "red_reversed": "已冲红", "paper_exchanged": "已换开", "voided": "已作废"}
FIELD_LABELS = {"code": "票据代码", "number": "票据号码", "check_code": "校验码", "issue_date": "开票日期", "total_amount": "金额"}
FIELD_PROMPTS = {
    "code": "请发送票据代码（8位数字，在票据左上方）",
    "number": "请发送票据号码（10位数字）",
    "check_code": "请发送校验码（6位字母或数字）",
    "issue_date": "请发送开票日期，如 2025-11-20",
    "total_amount": "请发送票据金额（合计金额），如 356.80",
}
FIELD_RETRY = {
    "code": "没有识别到票据代码，应为8位数字，如 46060125。",
    "number": "没有识别到票据号码，应为10位数字，如 0000012345。",
    "check_code": "没有识别到校验码，应为6位字母或数字，如 a1b2c3。",
    "issue_date": "没有识别到开票日期，请按 2025-11-20 或 2025年11月20日 的格式发送。",
    "total_amount": "没有识别到金额，请发送数字，如 356.80。",
}


class Links:
    """Addresses of the mini-app's screens. `app_url` is the mini-app's own address, e.g.
    https://piaojia.example.cn/app/ (the hash routes follow it)."""

    def __init__(self, app_url: str):
        self.base = (app_url or "/app/").rstrip("/") + "/#/"

    def to(self, route: str) -> str:
        return self.base + route.lstrip("/")

    def receipt(self, key: str) -> tuple[str, str]:
        return "查看票据详情", self.to(f"receipt/{key}")

    def wallet(self) -> tuple[str, str]:
        return "打开票夹", self.to("wallet")

    def claims(self) -> tuple[str, str]:
        return "查看我的报销", self.to("claims")

    def authorizations(self) -> tuple[str, str]:
        return "管理我的授权", self.to("authorizations")

    def scan(self) -> tuple[str, str]:
        return "打开扫码授权", self.to("scan")

    def messages(self) -> tuple[str, str]:
        return "查看全部消息", self.to("messages")

    def profile(self) -> tuple[str, str]:
        return "打开「我的」页面", self.to("profile")


# ---------------------------------------------------------------------------------------
# Values

def money(value) -> str:
    """'1234.5' → '¥1,234.50'; None or not a number → '—'."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value).replace(",", "").replace("¥", "").strip())
    except (InvalidOperation, ValueError):
        return "—"
    amount = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount):,.2f}"


def _as_date(value) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(CHINA).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    text = str(value)
    try:
        if len(text) > 10:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return moment.astimezone(CHINA).date() if moment.tzinfo else moment.date()
        return date.fromisoformat(text)
    except ValueError:
        return None


def cn_date(value) -> str:
    """'2025-11-20' (or a date, or an ISO timestamp, read in China time) → '2025年11月20日'."""
    d = _as_date(value)
    return f"{d.year}年{d.month}月{d.day}日" if d else "—"


def period_label(period: Period | None) -> str:
    if period is None:
        return ""
    s, e = period.start, period.end
    if s == e:
        return cn_date(s)
    if s.day == 1 and s.month == 1 and e.month == 12 and e.day == 31 and s.year == e.year:
        return f"{s.year}年"
    next_day = date.fromordinal(e.toordinal() + 1)
    if s.day == 1 and s.year == e.year and s.month == e.month and next_day.day == 1:
        return f"{s.year}年{s.month}月"
    return f"{cn_date(s)}至{cn_date(e) if e.year != s.year else f'{e.month}月{e.day}日'}"


def shorten(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def clip(text: str, max_lines: int = MAX_LINES) -> str:
    lines = text.strip("\n").split("\n")
    if len(lines) <= max_lines:
        return "\n".join(lines)
    return "\n".join(lines[:max_lines - 1] + ["……更多内容请在小程序查看"])


def receipt_status(r: dict) -> str:
    return r.get("display_status") or LIFECYCLE_LABELS.get(r.get("lifecycle")) or "正常"


def issuer_name(r: dict) -> str:
    return ((r.get("issuer") or {}).get("name")) or "开票单位"


def unit_name(item: dict) -> str:
    return ((item.get("unit") or {}).get("name")) or "报销单位"


def short_unit(name: str) -> str:
    """中国人寿保险股份有限公司三亚分公司 → 中国人寿保险三亚分公司 (for list lines)."""
    for suffix in ("股份有限公司", "有限责任公司", "有限公司"):
        trimmed = name.replace(suffix, "")
        if len(trimmed) >= 4:
            name = trimmed
    return name


def short_title(title: str | None) -> str:
    """海南省医疗住院收费票据（电子） → 住院收费票据."""
    text = re.sub(r"[（(]电子[)）]", "", title or "")
    text = re.sub(r"^.{2,8}?(?:省|自治区|市)", "", text)
    text = re.sub(r"^医疗", "", text)
    return text or (title or "票据")


# ---------------------------------------------------------------------------------------
# Receipts

def receipt_line(i: int, r: dict) -> str:
    kind = KIND_LABELS.get(r.get("kind"), "")
    return (f"{i}. {cn_date(r.get('issue_date'))} {shorten(issuer_name(r), 14)}"
            f"{' ' + kind if kind else ''} {money(r.get('total_amount'))}（{receipt_status(r)}）")


def filters_label(*, hospital=None, period=None, status=None, kind=None) -> str:
    parts = [hospital or "", period_label(period), STATUS_FILTER_LABELS.get(status, ""), KIND_LABELS.get(kind, "")]
    return "·".join(p for p in parts if p)


def receipt_list(items: list[dict], *, label: str = "", more: bool = False, total=None) -> str:
    scope = f"（{label}）" if label else ""
    if not items:
        return f"没有找到{label + '的' if label else ''}票据。\n可以换个说法，比如「上个月的票据」或「三亚中心医院的票据」。"
    count = f"{len(items)}张以上" if more else f"{len(items)}张"
    lines = [f"您的票据{scope}共{count}：" if len(items) > 1 else f"您的票据{scope}："]
    lines += [receipt_line(i, r) for i, r in enumerate(items[:MAX_ITEMS], 1)]
    if total is not None:
        lines.append(f"合计金额：{money(total)}")
    rest = len(items) - MAX_ITEMS
    if rest > 0 or more:
        lines.append(f"还有{max(rest, 0)}张{'以上' if more else ''}，在小程序查看")
    lines.append("回复序号查看详情" if len(items) > 1 else "回复「1」查看详情")
    return "\n".join(lines)


def receipt_detail(r: dict) -> str:
    status = receipt_status(r)
    lines = [shorten(r.get("title") or "财政电子票据", 24),
             f"开票单位：{issuer_name(r)}",
             f"开票日期：{cn_date(r.get('issue_date'))}",
             f"金额：{money(r.get('total_amount'))}（{status}）"]
    if r.get("code") and r.get("number"):
        lines.append(f"票据代码 {r['code']}，号码 {r['number']}")
    reimbursed = r.get("reimbursed_amount")
    if status in UNUSABLE:
        detail = r.get("lifecycle_detail")
        reason = detail.get("reason") if isinstance(detail, dict) else None
        lines.append(f"该票据{status}，不能再用于报销" + (f"（原因：{shorten(reason, 20)}）" if reason else ""))
    elif reimbursed and Decimal(str(reimbursed).replace(",", "") or 0) > 0:
        lines.append(f"已报销 {money(reimbursed)}，剩余可报 {money(r.get('remaining_amount'))}")
    lock = r.get("lock")
    if lock and status == "报销中":
        lines.append(f"{((lock.get('unit') or {}).get('name')) or '报销单位'}正在办理报销")
    for entry in (r.get("ledger") or [])[-2:]:
        outcome = "已报销" if entry.get("outcome") == "reimbursed" else "未通过"
        lines.append(f"· {shorten(unit_name(entry), 14)} {outcome} {money(entry.get('amount'))}"
                     if entry.get("outcome") == "reimbursed" else
                     f"· {shorten(unit_name(entry), 14)} {outcome}（{shorten(entry.get('reason') or '未说明', 16)}）")
    if r.get("synced_at"):
        lines.append("（外省票据，信息同步自开票地）")
    return "\n".join(lines)


def receipt_choices(items: list[dict], question: str) -> str:
    lines = [question]
    lines += [receipt_line(i, r) for i, r in enumerate(items[:MAX_ITEMS], 1)]
    lines.append("回复序号即可")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Claims, authorizations, notifications

def claim_line(i: int, item: dict) -> str:
    status = item.get("status") or "—"
    code = item.get("status_code")
    tail = status
    if code == "reimbursed" and item.get("amount"):
        tail = f"已报销 {money(item['amount'])}"
    elif code == "rejected":
        tail = f"被拒（{shorten(item.get('reason') or '未说明原因', 12)}）"
    key = item.get("receipt_key") or ""
    title = shorten(short_title(item.get("receipt_title")), 10) + (f"（尾号{key[-4:]}）" if key else "")
    return f"{i}. {shorten(short_unit(unit_name(item)), 12)}·{title}：{tail}"


def claims(items: list[dict], *, label: str = "") -> str:
    if not items:
        return (f"暂无{label}的报销记录。" if label else "暂无报销记录。") + \
            "\n报销时请在报销单位出示的二维码页面，用票夹小程序扫码授权。"
    lines = [f"您的报销进度{'（' + label + '）' if label else ''}，共{len(items)}条："]
    lines += [claim_line(i, item) for i, item in enumerate(items[:MAX_ITEMS], 1)]
    if len(items) > MAX_ITEMS:
        lines.append(f"还有{len(items) - MAX_ITEMS}条，在小程序查看")
    return "\n".join(lines)


def _live_receipts(auth: dict) -> list[dict]:
    return [r for r in auth.get("receipts") or [] if not r.get("revoked_at")]


def authorization_line(i: int, auth: dict) -> str:
    unit = auth.get("unit") or {}
    name = unit.get("name") or "报销单位"
    kind = f"（{unit['kind_label']}）" if unit.get("kind_label") and len(name) <= 10 else ""
    count = len(_live_receipts(auth)) if auth.get("status") == "active" else len(auth.get("receipts") or [])
    state = {"active": f"{cn_date(auth.get('expires_at'))}到期", "revoked": "已撤销", "expired": "已过期"}.get(
        auth.get("status"), auth.get("status") or "")
    return f"{i}. {shorten(name, 20)}{kind}·{count}张票据·{state}"


def authorizations(items: list[dict]) -> str:
    if not items:
        return "您还没有授权过任何报销单位。\n报销时在报销单位的二维码页面用票夹小程序扫码即可授权。"
    active = [a for a in items if a.get("status") == "active"]
    others = [a for a in items if a.get("status") != "active"]
    if active:
        lines = [f"生效中的授权{len(active)}个："]
        lines += [authorization_line(i, a) for i, a in enumerate(active[:MAX_ITEMS], 1)]
        if len(active) > MAX_ITEMS:
            lines.append(f"还有{len(active) - MAX_ITEMS}个，在小程序查看")
        if others:
            lines.append(f"另有{len(others)}个已撤销或过期的授权")
        lines.append("如需撤销，发送「撤销授权」加单位名称")
    else:
        lines = ["您目前没有生效中的授权。", f"历史授权{len(others)}个（已撤销或过期）："]
        lines += [authorization_line(i, a) for i, a in enumerate(others[:3], 1)]
    return "\n".join(lines)


def authorization_choices(items: list[dict], question: str) -> str:
    lines = [question]
    lines += [authorization_line(i, a) for i, a in enumerate(items[:MAX_ITEMS + 3], 1)]
    lines.append("回复序号即可，回复「取消」放弃")
    return "\n".join(lines)


def revoke_question(auth: dict) -> str:
    count = len(_live_receipts(auth))
    return (f"确认撤销对「{unit_name(auth)}」的授权吗？涉及{count}张票据，撤销后该单位不能再使用这些票据。\n"
            "回复「确认」撤销，回复「取消」放弃。")


def revoke_result(result: dict, unit: str) -> str:
    revoked, kept = result.get("revoked") or [], result.get("kept") or []
    lines = []
    if revoked:
        lines.append(f"已撤销对「{unit}」的授权（{len(revoked)}张票据）。")
    if kept:
        detail = kept[0].get("detail") or "报销单位正在办理，暂不能撤销"
        lines.append(f"{'另有' if revoked else ''}{len(kept)}张票据未能撤销：{detail}。")
    if not revoked and not kept:
        lines.append(f"对「{unit}」的授权已不再生效，无需撤销。")
    return "\n".join(lines)


def notifications(items: list[dict], *, unread_only: bool, unread_count: int, marked: int) -> str:
    if not items:
        return "暂时没有新消息。" if unread_only else "暂时没有消息。"
    head = f"您有{unread_count}条未读消息：" if unread_only else (
        f"最近的消息（{unread_count}条未读）：" if unread_count else "最近的消息：")
    lines = [head]
    for i, n in enumerate(items[:MAX_ITEMS], 1):
        when = _as_date(n.get("created_at"))
        stamp = f"（{when.month}月{when.day}日）" if when else ""
        dot = "" if n.get("read") else "[新] "
        lines.append(f"{i}. {dot}{shorten(n.get('title'), 12)}：{shorten(n.get('body'), 30)}{stamp}")
    rest = unread_count - marked
    if marked:
        lines.append("以上消息已标为已读" + (f"，还有{rest}条未读，在小程序查看" if rest > 0 else ""))
    return "\n".join(lines)


def push_state(settings: dict) -> str:
    enabled = bool(settings.get("enabled"))
    lines = [f"消息推送：{'已开启' if enabled else '已关闭'}"]
    if enabled:
        lines.append("票据入账、报销进度等变化会第一时间通知您。发送「关闭推送」可关闭。")
    else:
        lines.append("发送「开启推送」可在票据入账、报销进度变化时收到通知。")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Verify

def verify_result(result: dict) -> str:
    if not result.get("authentic"):
        return ("查验未通过：没有找到与所填信息一致的票据。\n"
                "请核对票据代码、号码、校验码、开票日期和金额后重试；如仍不通过，请联系开票单位。")
    status = result.get("display_status") or "正常"
    lines = ["查验通过：这是一张真实的财政电子票据。",
             f"开票单位：{((result.get('issuer') or {}).get('name')) or '—'}",
             f"开票日期：{cn_date(result.get('issue_date'))}",
             f"金额：{money(result.get('total_amount'))}",
             f"状态：{status}"]
    if status in UNUSABLE:
        lines.append(f"注意：该票据{status}，不能用于报销。")
    elif result.get("remaining_amount") is not None and status != "正常":
        lines.append(f"剩余可报销金额：{money(result.get('remaining_amount'))}")
    return "\n".join(lines)


def verify_progress(fields: dict, missing: str, *, first: bool) -> str:
    lines = []
    if first:
        lines.append("好的，我来帮您查验票据真伪。需要5项信息，可以一次发送多项。")
    got = [f"{FIELD_LABELS[k]} {fields[k]}" for k in FIELD_LABELS if k in fields]
    if got and not first:
        lines.append("已收到：" + "，".join(got[-2:]))
    lines.append(FIELD_PROMPTS[missing])
    if first:
        lines.append("发送「取消」可随时退出。")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Fixed texts

HELP = "\n".join([
    "我是票夹助手，可以帮您：",
    "· 查票据：「我的票据」「上个月的票据」「三亚中心医院的票据」",
    "· 看报销：「报销进度」",
    "· 验真伪：「验真」，按提示发送票据信息",
    "· 管授权：「我的授权」「撤销授权」",
    "· 看消息：「有新消息吗」「消息设置」",
    "· 解除绑定：「解绑」",
    "扫码授权报销单位请在票夹小程序中操作。",
])

UNKNOWN = "\n".join([
    "抱歉，我没太明白您的意思。您可以试试：",
    "· 我的票据",
    "· 报销进度",
    "· 验真",
    "发送「帮助」查看全部功能。",
])

GREETING = "您好！我是票夹助手，可以帮您查票据、看报销进度、查验票据真伪。发送「帮助」查看全部功能。"
THANKS = "不客气！还有需要随时找我。"
ACK = "好的。还有需要随时找我。"
NOTHING_PENDING = "好的，当前没有进行中的操作。"
UNBOUND_HINT = f"您还没有绑定票夹账号。{BIND_HINT}"
BIND_EXPIRED = f"您的票夹账号绑定已失效（可能已在小程序中解除）。如需继续使用，{BIND_HINT}。"
AUTHORIZE = "\n".join([
    "授权报销单位使用票据，需要在票夹小程序中扫码确认：",
    "1. 打开票夹小程序，点「扫一扫」",
    "2. 扫描报销单位出示的授权二维码",
    "3. 核对单位和票据后确认授权",
    "授权后可发送「我的授权」查看，随时可以撤销。",
])
UNBIND_QUESTION = "确认解除绑定吗？解除后我将不能再为您查询票据和推送消息。\n回复「确认」解除，回复「取消」放弃。"
UNBIND_DONE = f"已解除绑定。如需再次使用，{BIND_HINT}。"
CONFIRM_AGAIN = "请回复「确认」继续，或回复「取消」放弃。"


def api_error(status: int, title: str | None) -> str:
    fallback = {400: "请求的信息有误", 403: "没有权限执行该操作", 404: "未找到相关记录", 409: "当前状态不允许该操作",
                429: "操作太频繁，请稍后再试"}.get(status)
    if fallback is None:
        fallback = "票夹服务暂时不可用，请稍后再试" if status >= 500 else "请求失败，请稍后再试"
    text = (title or fallback).strip().rstrip("。.!！")
    return f"抱歉，{text}。"
