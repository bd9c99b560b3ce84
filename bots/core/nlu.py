"""Intent recognition for everyday Chinese chat messages: rules, not a model.

`parse(text, today=..., hospitals=[...])` → `Parsed(intent, entities…)`.

Normalisation first: full-width → half-width (NFKC), a few traditional characters and
common typos (票剧 → 票据, 报消 → 报销, 收权 → 授权 …), emoji dropped, Chinese numerals
before a counter or date word made digits (十一月 → 11月, 第一个 → 第1个), then polite
words (请, 帮我, 一下, 吗, 呢 …) stripped for keyword matching. Entities: receipt key or
number, verify fields (code, number, check code, date, amount), a period of days, hospital
names (fuzzy, against the issuer names passed in), status and kind filters, a choice number.
"""
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher

from bots.core.dates import Period, convert_cn_numerals, find_full_date, find_period, _CN_DIGITS

INTENTS = (
    "bind", "list_receipts", "receipt_detail", "claims", "verify", "authorizations", "revoke", "authorize",
    "notifications", "push_settings", "unbind", "help", "greeting", "thanks", "confirm", "deny", "choice", "unknown",
)

# ---------------------------------------------------------------------------------------
# Normalisation

_TRADITIONAL = str.maketrans({
    "據": "据", "報": "报", "銷": "销", "權": "权", "綁": "绑", "驗": "验", "醫": "医", "單": "单", "幫": "帮",
    "確": "确", "認": "认", "設": "设", "閉": "闭", "開": "开", "啟": "启", "進": "进", "麼": "么", "嗎": "吗",
    "張": "张", "個": "个", "號": "号", "這": "这", "詳": "详", "細": "细", "們": "们", "優": "优", "發": "发",
    "錄": "录", "記": "记", "態": "态", "將": "将", "稱": "称", "時": "时", "間": "间", "僞": "伪", "偽": "伪",
    "撥": "拨", "門": "门", "診": "诊", "訊": "讯", "寶": "宝", "險": "险", "賠": "赔", "覽": "览", "幾": "几",
})

# Emoji that carry a meaning in a chat become words before the others are dropped.
_EMOJI_WORDS = {"👍": "好", "👌": "好", "🙆": "好", "✅": "确认", "❌": "取消", "🙅": "不", "❓": "?", "🆗": "好"}

# Typos and variants, applied to the compact form (longest first where they overlap).
TYPOS = (
    ("票剧", "票据"), ("票局", "票据"), ("票具", "票据"), ("票聚", "票据"), ("漂据", "票据"), ("飘据", "票据"),
    ("瞟据", "票据"), ("票距", "票据"), ("票句", "票据"),
    ("报消", "报销"), ("抱销", "报销"), ("爆销", "报销"), ("报效", "报销"), ("报小", "报销"), ("包销", "报销"),
    ("报削", "报销"),
    ("收权", "授权"), ("受权", "授权"), ("授全", "授权"), ("兽权", "授权"), ("授劝", "授权"),
    ("撤消", "撤销"), ("撒销", "撤销"), ("撤削", "撤销"), ("彻销", "撤销"), ("撤小", "撤销"),
    ("帮定", "绑定"), ("邦定", "绑定"), ("榜定", "绑定"), ("綁定", "绑定"), ("解帮", "解绑"), ("解邦", "解绑"),
    ("解榜", "解绑"),
    ("消习", "消息"), ("消西", "消息"), ("消思", "消息"),
    ("理陪", "理赔"), ("里赔", "理赔"),
    ("验针", "验真"), ("验正", "验真"), ("鉴真", "验真"), ("检验真伪", "验真"), ("辨别真伪", "验真"),
    ("金进度", "进度"), ("近度", "进度"), ("进渡", "进度"),
    ("医完", "医院"), ("衣院", "医院"),
    ("tuisong", "推送"), ("piaoju", "票据"), ("baoxiao", "报销"),
)

_POLITE_PREFIX = re.compile(r"^(?:请问|请|麻烦你|麻烦您|麻烦|劳驾|帮我|帮忙|给我|你给我|您给我)+")
_POLITE_ANYWHERE = re.compile(r"一下子?|一哈|帮我|帮忙")
_POLITE_SUFFIX = re.compile(r"(?:好吗|可以吗|行吗|谢谢你?|谢啦|多谢|thanks|thx|吗|呢|吧|啊|呀|哦|嘛|哈|啦|喔|噢|呗)+$")
_GREETING_WORDS = r"(?:你好|您好|你们好|hi|hello|hey|嗨|哈喽|哈啰|哈罗|在吗|在么|在不在|在嘛|早上好|上午好|中午好|下午好|晚上好|早安|早|小助手|助手|票夹)"
_GREETING_PREFIX = re.compile(rf"^(?:{_GREETING_WORDS}[啊呀哈]?)+")


def _drop_emoji(text: str) -> str:
    out = []
    for ch in text:
        if ch in _EMOJI_WORDS:
            out.append(_EMOJI_WORDS[ch])
            continue
        cat = unicodedata.category(ch)
        if cat in ("So", "Sk", "Cs", "Co", "Cf") or 0xFE00 <= ord(ch) <= 0xFE0F or 0x1F3FB <= ord(ch) <= 0x1F3FF:
            out.append(" ")
            continue
        out.append(ch)
    return "".join(out)


def normalize(text: str) -> str:
    """Full-width → half-width, some traditional characters, emoji, Chinese numerals before
    counters and date words. Case and separators are kept (check codes are case-sensitive)."""
    text = unicodedata.normalize("NFKC", text or "")
    text = text.translate(_TRADITIONAL)
    text = text.replace("¥", "¥").replace("￥", "¥")
    text = _drop_emoji(text)
    text = convert_cn_numerals(text)
    return re.sub(r"\s+", " ", text).strip()


def fold(text: str) -> str:
    """Lower case, letters, digits and CJK only: the form names are compared in."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text or "").translate(_TRADITIONAL).lower())


def fix_typos(compact: str) -> str:
    for wrong, right in TYPOS:
        compact = compact.replace(wrong, right)
    return compact


def compact(normalized: str, *, polite: bool = True) -> str:
    """The keyword-matching form: no spaces or punctuation, lower case, typos fixed, and
    (unless `polite=False`) greetings and polite words stripped."""
    c = fix_typos(fold(normalized))
    if not polite:
        return c
    stripped = _GREETING_PREFIX.sub("", c) or c
    for _ in range(2):
        stripped = _POLITE_PREFIX.sub("", stripped)
        stripped = _POLITE_ANYWHERE.sub("", stripped)
        stripped = _POLITE_SUFFIX.sub("", stripped)
    return stripped


# ---------------------------------------------------------------------------------------
# Names (hospitals, units): fuzzy substring matching

HOSPITAL_GENERIC = ("附属医院", "人民医院", "卫生院", "门诊部", "医院", "诊所", "人民", "中心", "第一", "第二", "第三",
                    "附属", "大学", "医科", "医学院", "省", "市", "县", "区", "分院")
UNIT_GENERIC = ("股份有限公司", "有限责任公司", "有限公司", "分公司", "支公司", "公司", "股份", "有限", "责任", "中国",
                "管理", "中心", "省", "市", "县", "区", "局")
_UNIT_ALIASES = (("医疗保障局", "医保局"), ("医疗保障", "医保"), ("社会保险", "社保"), ("人寿保险", "人寿"),
                 ("财产保险", "财险"), ("人民保险", "人保"))


def _residual(block: str, generic) -> str:
    for word in generic:
        block = block.replace(word, "")
    return block


def _aliases(name: str) -> list[str]:
    forms = [name]
    for long, short in _UNIT_ALIASES:
        if long in name:
            forms.append(name.replace(long, short))
    return forms


def _common_runs(name: str, text: str) -> list[str]:
    """The runs of 2+ characters `name` and `text` share, longest first, in any order
    (海南人寿 shares 海南 and 人寿 with 中国人寿海南分公司)."""
    runs = []
    a, b = list(name), list(text)
    while True:
        m = SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b))
        if m.size < 2:
            return runs
        runs.append("".join(a[m.a:m.a + m.size]))
        a[m.a:m.a + m.size] = ["\x00"] * m.size  # used up on both sides
        b[m.b:m.b + m.size] = ["\x01"] * m.size


def match_names(text: str, names, *, generic=HOSPITAL_GENERIC) -> list[str]:
    """The names in `names` that `text` refers to; more than one means the text is
    ambiguous between them. A name matches when the text holds it whole, or shares with it
    runs of 2+ characters of which one is more than generic words (三亚 matches 三亚市中心医院;
    医院 alone does not). The names sharing the most characters win, so 三亚中心医院 picks
    三亚市中心医院 over 三亚市人民医院, and 三亚 returns both. When only generic words match
    and the text says 医院/卫生院/诊所, every name sharing the most of them is returned (the
    caller asks which one)."""
    t = fold(text)
    if not t:
        return []
    distinct, generic_only = [], []
    for name in dict.fromkeys(names):
        best, is_distinct = 0, False
        for form in _aliases(name):
            f = fold(form)
            if not f:
                continue
            if f in t:
                best, is_distinct = max(best, 1000 + len(f)), True
                continue
            blocks = _common_runs(f, t)
            if not blocks:
                continue
            score = sum(len(run) for run in blocks)
            good = any(len(rest) >= 2 or (rest and len(run) >= 3)
                       for run in blocks for rest in [_residual(run, generic)])
            if good and (not is_distinct or score > best):
                best, is_distinct = score, True
            elif not is_distinct and score > best:
                best = score
        if best > 0:
            (distinct if is_distinct else generic_only).append((best, name))
    pool = distinct
    if not pool:
        if not re.search(r"院|诊所", t):
            return []
        pool = generic_only
    if not pool:
        return []
    top = max(score for score, _ in pool)
    return [name for score, name in pool if score == top]


# ---------------------------------------------------------------------------------------
# Verify fields and receipt identifiers

FIELD_ORDER = ("code", "number", "check_code", "issue_date", "total_amount")
_KEY = re.compile(r"(?<!\d)(\d{8})\s*[-_/,\s]?\s*(\d{10})(?!\d)")
_LABELLED = (
    ("code", re.compile(r"(?:票据)?代码\s*(?:是|为)?\s*[:=]?\s*(\d{8})(?!\d)")),
    ("number", re.compile(r"(?:票据)?号(?:码)?\s*(?:是|为)?\s*[:=]?\s*(\d{10})(?!\d)")),
    ("check_code", re.compile(r"(?:校验码|检验码|校验|验证码)\s*(?:是|为)?\s*[:=]?\s*([A-Za-z0-9]{6})(?![A-Za-z0-9])")),
    ("total_amount", re.compile(r"(?:金额|总额|总金额|合计|价税合计|一共|共计|总计)\s*(?:是|为)?\s*[:=]?\s*[¥$]?\s*"
                                r"(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d{1,13}(?:\.\d{1,2})?)(?!\d)(?:\s*[元块])?")),
)
_AMOUNT = re.compile(
    r"[¥$]\s*(?P<a>\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d{1,13}(?:\.\d{1,2})?)(?![\d.])"
    r"|(?<![\d.,])(?P<b>\d{1,13}(?:\.\d{1,2})?)\s*(?:元|块|rmb|RMB)(?:\s*(?P<jiao>\d)\s*角?)?(?:\s*(?P<fen>\d)\s*分)?"
    r"|(?<![\d.,\-/])(?P<c>\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d{1,13}\.\d{1,2})(?![\d.])")
_CHECK = re.compile(r"(?<![A-Za-z0-9])([A-Za-z0-9]{6})(?![A-Za-z0-9])")
_DIGITS = re.compile(r"(?<![\d.])(\d+)(?![\d.])")
_NOT_CHECK_CODES = {"thanks", "cancel", "please", "hello!", "return", "wechat", "quit!!"}


def _blank(text: str, span) -> str:
    return text[:span[0]] + " " * (span[1] - span[0]) + text[span[1]:]


def amount_value(text: str) -> str | None:
    """'1,234.5' → '1234.50' (two places), None when not an amount."""
    try:
        value = Decimal(text.replace(",", ""))
    except (InvalidOperation, ValueError):
        return None
    if value < 0 or value >= Decimal("1e13"):
        return None
    return str(value.quantize(Decimal("0.01")))


def _yyyymmdd(digits: str) -> date | None:
    try:
        d = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None
    return d if 2000 <= d.year <= 2099 else None


def extract_fields(text: str, today: date, *, expect: str | None = None, verify: bool = False) -> dict:
    """Verify fields found in one message: code, number, check_code, issue_date (ISO),
    total_amount ('356.80'). Labelled values first (代码…, 号码…, 校验码…, 金额…), then by
    shape: 8+10 digits a receipt key, a date, an amount with ¥/元 or decimals, 10 digits a
    number, 8 digits a code, 6 letters/digits (with a letter, or any in a verify exchange)
    a check code. `expect` names the field just asked for, so a bare 356 can be the amount
    or a bare 123456 the check code."""
    s = normalize(text)
    found: dict = {}
    for name, pattern in _LABELLED:
        m = pattern.search(s)
        if m:
            value = amount_value(m.group(1)) if name == "total_amount" else m.group(1)
            if value:
                found[name] = value
                s = _blank(s, m.span())
    m = _KEY.search(s)
    if m:
        found.setdefault("code", m.group(1))
        found.setdefault("number", m.group(2))
        s = _blank(s, m.span())
    date_found = find_full_date(s, today)
    if date_found:
        found.setdefault("issue_date", date_found[0].isoformat())
        s = _blank(s, date_found[1])
    else:
        m = re.search(r"(?:开票)?日期\s*(?:是|为)?\s*[:=]?\s*(\d{8})(?!\d)", s)
        if m and _yyyymmdd(m.group(1)):
            found.setdefault("issue_date", _yyyymmdd(m.group(1)).isoformat())
            s = _blank(s, m.span())
    for m in _AMOUNT.finditer(s):
        raw = m.group("a") or m.group("b") or m.group("c")
        value = amount_value(raw)
        if value and m.group("b"):
            extra = Decimal(m.group("jiao") or 0) / 10 + Decimal(m.group("fen") or 0) / 100
            value = str((Decimal(value) + extra).quantize(Decimal("0.01")))
        if value and "total_amount" not in found:
            found["total_amount"] = value
            s = _blank(s, m.span())
        break
    for m in list(_DIGITS.finditer(s)):
        digits = m.group(1)
        if len(digits) == 18 and "code" not in found:
            found["code"], found["number"] = digits[:8], digits[8:]
        elif len(digits) == 10 and "number" not in found:
            found["number"] = digits
        elif len(digits) == 8:
            as_date = _yyyymmdd(digits)
            if as_date and "issue_date" not in found and (expect == "issue_date" or "code" in found):
                found["issue_date"] = as_date.isoformat()
            elif "code" not in found:
                found["code"] = digits
            else:
                continue
        else:
            continue
        s = _blank(s, m.span())
    for m in _CHECK.finditer(s):
        token = m.group(1)
        if "check_code" in found:
            break
        letters, digits = re.search(r"[A-Za-z]", token), re.search(r"\d", token)
        if (letters and digits) or (digits and (verify or expect == "check_code")) or \
                (expect == "check_code" and token.lower() not in _NOT_CHECK_CODES):
            found["check_code"] = token
            s = _blank(s, m.span())
    if expect == "total_amount" and "total_amount" not in found:
        m = re.fullmatch(r"\s*(\d{1,13})\s*", s)
        if m:
            found["total_amount"] = amount_value(m.group(1))
    return found


# ---------------------------------------------------------------------------------------
# Intents

RECEIPT_NOUN = re.compile(r"票据|收据|发票|单据|票子|账单|缴费单|收费单|电子票|医疗票|就诊记录|看病记录|缴费记录|票")
_STATUS_WORDS = (
    (re.compile(r"部分报销"), "partial"),
    (re.compile(r"报销中|正在报销|锁定中|被锁定|办理中|在报销"), "locked"),
    (re.compile(r"未报销|没报销|没有报销|还没报|没报过|未报|可报销|能报销|可以报销"), "issued"),
    (re.compile(r"已报销|已经报销|报销过|报完|报销完|已报"), "reimbursed"),
    (re.compile(r"已授权|授权过|授权了的"), "authorized"),
    (re.compile(r"冲红|红冲"), "red_reversed"),
    (re.compile(r"换开|纸质"), "paper_exchanged"),
    (re.compile(r"作废"), "voided"),
    (re.compile(r"正常的?票"), "issued"),
)
_CONFIRM = re.compile(r"(?:确认|确定|是|是的|是滴|对|对的|好|好的|嗯+|恩|可以|行|没问题|ok|okay|yes|y|同意|确认撤销|撤销吧|"
                      r"确认解绑|解绑吧|就这样|没错|好滴|好嘞|确认无误)")
_DENY = re.compile(r"(?:取消|不|不要|不用|不用了|算了|否|不是|no|n|先不|先不了|先不用|再想想|我再想想|放弃|别|不了|停|退出|"
                   r"返回|不撤销|不撤了|不解绑|不确定|不对|错了|取消操作|不要了)")
_CHOICE = re.compile(r"(?:选)?第?(\d{1,2})(?:个|张|项|条|家|笔|位)?")


@dataclass
class Parsed:
    intent: str
    text: str = ""                    # normalised message
    compact: str = ""                 # keyword form (no punctuation, polite words stripped)
    key: str | None = None            # receipt key "46060125-0000012345"
    number: str | None = None         # a 10-digit receipt number alone
    fields: dict = field(default_factory=dict)   # verify fields found (see extract_fields)
    period: Period | None = None
    hospitals: list[str] = field(default_factory=list)  # matched issuer names; >1 means ambiguous
    status: str | None = None         # wallet status filter (issued, locked, reimbursed …)
    kind: str | None = None           # outpatient / inpatient
    push: bool | None = None          # push settings: True on, False off, None show
    choice: int | None = None         # 1-based
    bind_code: str | None = None
    unread_only: bool = False
    mark_all: bool = False
    latest: bool = False              # "最新那张"
    want_total: bool = False          # "花了多少钱"
    greeted: bool = False

    @property
    def amount(self) -> str | None:
        return self.fields.get("total_amount")

    @property
    def check_code(self) -> str | None:
        return self.fields.get("check_code")

    @property
    def day(self) -> date | None:
        return self.period.start if self.period and self.period.single_day else None


def parse_choice(c: str) -> int | None:
    """'1', '第一个', '2号', '一' → the number."""
    m = _CHOICE.fullmatch(c)
    if m:
        n = int(m.group(1))
        return n if n > 0 else None
    if len(c) == 1 and c in _CN_DIGITS and _CN_DIGITS[c] > 0:
        return _CN_DIGITS[c]
    return None


def _search(pattern: str, c: str) -> bool:
    return re.search(pattern, c) is not None


def parse(text: str, *, today: date, hospitals=()) -> Parsed:
    """The intent of one message and its entities. `hospitals`: issuer names of the
    citizen's receipts, to find the one a message names."""
    n = normalize(text)
    plain = _drop_emoji(unicodedata.normalize("NFKC", text or ""))  # names are matched before numeral conversion
    raw = compact(n, polite=False)
    c = compact(n)
    p = Parsed("unknown", text=n, compact=c)
    p.greeted = bool(_GREETING_PREFIX.match(raw))

    if not raw:
        if re.fullmatch(r"[?？\s]+", text or "") or n in ("?", "??"):
            p.intent = "help"
        return p
    if re.fullmatch(r"\?+", n.replace(" ", "")):
        p.intent = "help"
        return p

    # Binding: "123456", "绑定 123456", "绑定码123456"
    m = re.fullmatch(r"(?:绑定码?|绑定账号|bind)?(?:是|为)?(\d{6})", c)
    if m:
        p.intent, p.bind_code = "bind", m.group(1)
        return p
    if (choice := parse_choice(c)) is not None:
        p.intent, p.choice = "choice", choice
        return p
    if _CONFIRM.fullmatch(c):
        p.intent = "confirm"
        return p
    if _DENY.fullmatch(c):
        p.intent = "deny"
        return p

    fields = extract_fields(n, today)
    key = f"{fields['code']}-{fields['number']}" if "code" in fields and "number" in fields else None
    p.fields, p.key = fields, key
    if key is None and "number" in fields:
        p.number = fields["number"]
    found = find_period(_KEY.sub(" ", n), today)
    p.period = found[0] if found else None

    if _search(r"解绑|解除绑定|取消绑定|解除关联|取消关联|退出绑定|注销绑定|断开绑定|断开连接|不再绑定|解除账号", c):
        p.intent = "unbind"
        return p
    if _search(r"绑定|绑码|关联账号|怎么绑|如何绑", c):
        p.intent = "bind"
        m = re.search(r"(?<!\d)(\d{6})(?!\d)", n)
        p.bind_code = m.group(1) if m else None
        return p
    if _search(r"(?:消息|推送|通知|提醒)(?:设置|开关|管理)|设置(?:消息|推送|通知|提醒)|免打扰|推送状态", c):
        p.intent = "push_settings"
        if _search(r"关闭|关掉|关了|停止|停掉|不要|取消|屏蔽", c):
            p.push = False
        elif _search(r"开启|打开|开通|恢复|重新|继续", c):
            p.push = True
        return p
    if _search(r"(?:关闭|关掉|关了|停止|停掉|取消|屏蔽|退订|不想收|不再|不要再?|别再?)(?:接收)?(?:消息)?(?:推送|通知|提醒)"
               r"|(?:推送|通知|提醒)(?:关闭|关掉|关了|停了|别发了|不要了)"
               r"|(?:别|不要|不用)再?(?:给我)?(?:发|推)(?:送)?(?:消息|通知)?了?$", c):
        p.intent, p.push = "push_settings", False
        return p
    if _search(r"(?:开启|打开|开通|恢复|重新开启|继续|接收|订阅)(?:消息)?(?:推送|通知|提醒)|(?:推送|通知|提醒)(?:打开|开启|开通)", c):
        p.intent, p.push = "push_settings", True
        return p
    if _search(r"撤销|撤回|收回|(?:取消|解除|终止|停止|不想|不再|不要)(?:对|给)?.{0,16}授权|授权.{0,8}(?:取消|解除)", c):
        p.intent = "revoke"
        return p
    if _search(r"(?:全部|都|所有|一键)(?:标为|标记为?|设为|设置为|置为)?已读|清空未读|标记已读|标为已读|消息已读|全部已阅", c):
        p.intent, p.mark_all = "notifications", True
        return p
    if _search(r"验真|查验|核验|验票|验证|真伪|真假|是真的|真的假的|是假的|是不是真|是否真|假票|真票|伪造|防伪|假发票|"
               r"是不是假|有没有假|是否有效|辨真", c):
        p.intent = "verify"
        p.fields = extract_fields(n, today, verify=True)
        return p
    if _search(r"扫码|扫一扫|扫描|二维码|我要授权|我想授权|怎么授权|如何授权|怎样授权|去授权|同意授权|进行授权|授权报销|"
               r"确认授权|批准授权|授权申请|申请报销|怎么报销|如何报销|怎样报销|我要报销|我想报销|去报销|办理报销", c):
        p.intent = "authorize"
        return p
    if _search(r"授权", c):
        p.intent = "authorizations"
        return p
    if _search(r"帮助|help|菜单|menu|功能|能做什么|能干什么|会做什么|会干什么|会什么|可以做什么|可以干什么|怎么用|如何使用|"
               r"使用说明|说明书|使用指南|有什么用|干嘛的|你是谁|你是什么|支持什么", c):
        p.intent = "help"
        return p
    if re.fullmatch(rf"(?:{_GREETING_WORDS}[啊呀哈]?)+", raw):
        p.intent = "greeting"
        return p
    if re.fullmatch(r"(?:谢谢你?|谢啦|多谢|感谢|thanks|thankyou|thx|3q|辛苦了?|好的谢谢|好的感谢|ok谢谢)+", raw):
        p.intent = "thanks"
        return p
    if _search(r"消息|通知|未读|新消息|提醒|动态|有什么新", c):
        p.intent = "notifications"
        p.unread_only = _search(r"未读|新消息|新的消息|新通知|有什么新|有没有新|有新", c)
        return p

    has_noun = bool(RECEIPT_NOUN.search(c))
    for pattern, status in _STATUS_WORDS:
        if pattern.search(c):
            p.status = status
            break
    if _search(r"住院", c):
        p.kind = "inpatient"
    elif _search(r"门诊|急诊", c):
        p.kind = "outpatient"
    p.want_total = _search(r"花了多少|花费|消费|一共花|总共花|总共多少|一共多少|合计多少|总金额|多少钱", c)
    p.hospitals = match_names(plain, hospitals) if hospitals else []
    detail_marker = _search(r"那张|这张|哪张|详情|明细|详细|具体|那1张|这1张", c)
    p.latest = _search(r"(?:最新|最近|最后|上)的?1张|(?:最新|最近)的?那张|刚刚?(?:开|收到)的(?:那张|票)", c)

    if key:
        p.intent = "receipt_detail"
        return p
    if has_noun and p.status is not None:
        p.intent = "list_receipts"
        return p
    if _search(r"报销|理赔|赔付|到账|报了没|报没报|赔了没|赔没赔|进度|审核|办理情况|退款", c):
        p.intent = "claims"
        return p
    if p.number and (has_noun or detail_marker or len(c) <= 12):
        p.intent = "receipt_detail"
        return p
    if p.latest:
        p.intent = "receipt_detail"
        return p
    if detail_marker and (p.hospitals or p.day):
        p.intent = "receipt_detail"
        return p
    if p.hospitals and p.day and _search(r"张|票", c):
        p.intent = "receipt_detail"
        return p
    if has_noun or p.hospitals or p.kind or p.want_total or p.status or _search(r"看病|就诊|医院|卫生院|诊所", c):
        p.intent = "list_receipts"
        return p
    if found:  # a date alone ("上个月的", "11月有哪些") asks for the receipts of that time
        rest = compact(n[:found[1][0]] + " " + n[found[1][1]:])
        if re.fullmatch(r"(?:我|的|有|哪些|什么|多少|几张|看看|看|查|查看|查询|显示|列出|都|啥|那些|这些|全部|所有|份)*", rest):
            p.intent = "list_receipts"
    return p
