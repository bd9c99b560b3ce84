"""The receipt's layout file (版式文件): one PDF in the style of the national medical receipt.

`render_receipt_pdf(receipt, verify_url)` draws, on A4 landscape pages:
- the title, a QR code of `verify_url` (top left), 票据代码 / 票据号码 / 校验码 / 开票日期 (top right);
- a banner and a watermark when the receipt is no longer in force (已冲红, 已换开纸质票据, 已作废);
- the payer (交款人, ID masked) and the visit (医保类型, 科别, 病历号 / 住院号, dates…);
- the items table (项目名称 数量 单位 金额 备注) in two column groups, continued on further
  pages when there are more than fit on the first;
- 合计 in capitals (大写) and figures (小写), the medical payment split;
- 收款单位 with its credit code, 复核人, 收款人, and the two seals as text (开票单位签章 with its
  algorithm and the start of its value, 财政监制签章 with its algorithm and key id).

Everything is text in reportlab's built-in `STSong-Light` CID font (no font file needed), so
pypdf extracts it back; each element is drawn as one `label：value` string, which `verify.py`
reads back. The layout is deterministic: the same receipt and URL give the same bytes (the
document date is the receipt's `issued_at`, reportlab's invariant mode fixes the file id).

The document information dictionary carries the receipt key (/Subject and /PiaojiaKey), the
content digest (/PiaojiaDigest, see `content_digest`) and the lifecycle (/PiaojiaLifecycle).
"""
import hashlib
import io
from datetime import datetime
from decimal import Decimal

import qrcode
import rfc8785
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas as rl_canvas

from backend.common.crypto import mask_id_number
from backend.layout.numerals import to_chinese_capital

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

PAGE_W, PAGE_H = landscape(A4)
MARGIN = 12 * mm
CONTENT_W = PAGE_W - 2 * MARGIN

# The labels the verifier reads back: each element is drawn as one string `label + value`.
LABEL_CODE = "票据代码："
LABEL_NUMBER = "票据号码："
LABEL_CHECK_CODE = "校验码："
LABEL_ISSUE_DATE = "开票日期："
LABEL_PAYER = "交款人："
LABEL_PAYER_ID = "证件号码："
LABEL_TOTAL_CAPITAL = "合计（大写）："
LABEL_TOTAL_FIGURES = "（小写）￥"
LABEL_ISSUER = "收款单位（章）："
LABEL_CREDIT_CODE = "统一社会信用代码："

LIFECYCLE_BANNERS = {"red_reversed": "已冲红", "paper_exchanged": "已换开纸质票据", "voided": "已作废"}
BANNER_PREFIX = "本票据"

ID_TYPE_LABELS = {
    "resident_id": "居民身份证", "passport": "护照", "hk_macao_permit": "港澳居民来往内地通行证",
    "taiwan_permit": "台湾居民来往大陆通行证", "foreigner_permanent_residence": "外国人永久居留身份证",
    "military_id": "军官证", "organization": "统一社会信用代码", "other": "其他证件",
}
VISIT_TYPE_LABELS = {"outpatient": "门诊", "emergency": "急诊", "inpatient": "住院", "physical_exam": "体检", "other": "其他"}
KIND_LABELS = {"outpatient": "门诊", "inpatient": "住院"}

# Fields of the wire form that make up the receipt's content (DESIGN §2), without the two
# signatures and without the status facets that change over the receipt's life.
CONTENT_FIELDS = (
    "code", "number", "check_code", "title", "kind", "issue_date", "issued_at", "issuer", "clerk", "checker",
    "payer", "total_amount", "payments", "visit", "items", "detail_items", "remark",
)

LINE_COLOR = (0.55, 0.12, 0.10)
SEAL_COLOR = (0.80, 0.08, 0.08)
FIRST_PAGE_ROWS = 8  # item rows per column group on the first page
NEXT_PAGE_ROWS = 24  # on each continuation page


def receipt_key(receipt: dict) -> str:
    return receipt.get("key") or f"{receipt['code']}-{receipt['number']}"


def content_digest(receipt: dict) -> str:
    """`sha256:<hex>` of the RFC 8785 canonical JSON of the receipt's content fields, with the
    payer's ID number masked. Masking makes the digest the same whether the caller holds the
    full ID or an answer's masked copy, and keeps a brute-forceable hash of the full ID out
    of a file that anyone holding the receipt may pass around."""
    content = {k: receipt[k] for k in CONTENT_FIELDS if k in receipt}
    payer = dict(content.get("payer") or {})
    if payer.get("id_number"):
        payer["id_number"] = mask_id_number(payer["id_number"])
        content["payer"] = payer
    return "sha256:" + hashlib.sha256(rfc8785.dumps(content)).hexdigest()


def render_receipt_pdf(receipt: dict, verify_url: str) -> bytes:
    """The layout file of `receipt` (the wire form plus `key`, `lifecycle`, `display_status`,
    optionally `lifecycle_detail`) with a QR code of `verify_url`. Unsigned: sign it with
    `signing.NodeSigner`. Raises ValueError when the total is not a decimal amount."""
    capital = to_chinese_capital(str(receipt["total_amount"]))  # ValueError unless an amount
    total = Decimal(str(receipt["total_amount"]).strip())
    items = list(receipt.get("items") or [])
    first, rest = items[: 2 * FIRST_PAGE_ROWS], items[2 * FIRST_PAGE_ROWS:]
    continuation = [rest[i: i + 2 * NEXT_PAGE_ROWS] for i in range(0, len(rest), 2 * NEXT_PAGE_ROWS)]
    pages = 1 + len(continuation)

    buf = io.BytesIO()
    canvas = rl_canvas.Canvas(buf, pagesize=(PAGE_W, PAGE_H), invariant=1, pageCompression=1)
    canvas._doc.info = _ReceiptInfo(receipt)  # custom /Piaojia* entries and the receipt's date
    key = receipt_key(receipt)
    canvas.setTitle(f"{receipt.get('title') or '医疗收费票据（电子）'} {key}")
    canvas.setSubject(key)
    canvas.setAuthor((receipt.get("issuer") or {}).get("name") or "")
    canvas.setCreator("Piaojia 票夹")
    canvas.setKeywords(f"piaojia-key={key}; {content_digest(receipt)}")

    page = _Page(canvas)
    _first_page(page, receipt, verify_url, first, total, capital, pages)
    for index, chunk in enumerate(continuation, start=2):
        canvas.showPage()
        _continuation_page(page, receipt, chunk, index, pages)
    canvas.showPage()
    canvas.save()
    return buf.getvalue()


class _ReceiptInfo(pdfdoc.PDFInfo):
    """reportlab's document information dictionary plus Piaojia's own entries."""

    def __init__(self, receipt: dict):
        super().__init__()
        self.extra = {
            "PiaojiaKey": receipt_key(receipt),
            "PiaojiaDigest": content_digest(receipt),
            "PiaojiaLifecycle": receipt.get("lifecycle") or "issued",
        }
        self.date = _pdf_date(receipt.get("issued_at"))

    def format(self, document):
        entries = {
            "Title": pdfdoc.PDFString(self.title), "Author": pdfdoc.PDFString(self.author),
            "Subject": pdfdoc.PDFString(self.subject), "Keywords": pdfdoc.PDFString(self.keywords),
            "Creator": pdfdoc.PDFString(self.creator), "Producer": pdfdoc.PDFString(self.producer),
            "Trapped": pdfdoc.PDFName(self.trapped),
        }
        if self.date:
            entries["CreationDate"] = entries["ModDate"] = pdfdoc.PDFString(self.date)
        for name, value in self.extra.items():
            entries[name] = pdfdoc.PDFString(value)
        return pdfdoc.PDFDictionary(entries).format(document)


def _pdf_date(issued_at) -> str | None:
    """`2025-11-20T10:15:00+08:00` → `D:20251120101500+08'00'`."""
    try:
        moment = datetime.fromisoformat(str(issued_at))
    except (TypeError, ValueError):
        return None
    text = moment.strftime("D:%Y%m%d%H%M%S")
    offset = moment.utcoffset()
    if offset is None:
        return text
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{text}{sign}{abs(minutes) // 60:02d}'{abs(minutes) % 60:02d}'"


class _Page:
    """Drawing helpers with y measured downwards from the top edge, in points."""

    def __init__(self, canvas):
        self.c = canvas

    def y(self, top: float) -> float:
        return PAGE_H - top

    def fit_size(self, text: str, width: float, size: float, min_size: float) -> float:
        while size > min_size and pdfmetrics.stringWidth(text, FONT, size) > width:
            size -= 0.5
        return size

    def text(self, x, top, text, size=9.0, width=None, align="left", min_size=5.0, color=(0, 0, 0), bold=False):
        """One string on one baseline; shrunk to `width`, then cut with … if still too wide."""
        text = _clean(text)
        if width is not None:
            size = self.fit_size(text, width, size, min_size)
            if pdfmetrics.stringWidth(text, FONT, size) > width:
                while text and pdfmetrics.stringWidth(text + "…", FONT, size) > width:
                    text = text[:-1]
                text += "…"
        text_width = pdfmetrics.stringWidth(text, FONT, size)
        if align == "center":
            x -= text_width / 2
        elif align == "right":
            x -= text_width
        self.c.saveState()
        obj = self.c.beginText(x, self.y(top))
        obj.setFont(FONT, size)
        obj.setFillColorRGB(*color)
        obj.setStrokeColorRGB(*color)
        # The CID font has no bold face: bold text is filled and stroked.
        obj.setTextRenderMode(2 if bold else 0)
        obj.textOut(text)
        self.c.setLineWidth(0.25)
        self.c.drawText(obj)
        self.c.restoreState()
        return text_width

    def hline(self, x1, x2, top, width=0.6):
        self.c.setStrokeColorRGB(*LINE_COLOR)
        self.c.setLineWidth(width)
        self.c.line(x1, self.y(top), x2, self.y(top))

    def vline(self, x, top1, top2, width=0.6):
        self.c.setStrokeColorRGB(*LINE_COLOR)
        self.c.setLineWidth(width)
        self.c.line(x, self.y(top1), x, self.y(top2))

    def box(self, x, top, w, h, width=0.9):
        self.c.setStrokeColorRGB(*LINE_COLOR)
        self.c.setLineWidth(width)
        self.c.rect(x, self.y(top + h), w, h, stroke=1, fill=0)


def _clean(value) -> str:
    """A value as one line of text: control characters become spaces."""
    text = "" if value is None else str(value)
    return "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in text).strip()


def _header(page: _Page, receipt: dict):
    title = _clean(receipt.get("title")) or "医疗收费票据（电子）"
    width = page.text(PAGE_W / 2, 20 * mm, title, size=18, width=150 * mm, align="center", min_size=10, bold=True)
    half = min(width, 150 * mm) / 2 + 4 * mm
    page.hline(PAGE_W / 2 - half, PAGE_W / 2 + half, 23 * mm, width=0.8)
    page.hline(PAGE_W / 2 - half, PAGE_W / 2 + half, 24 * mm, width=0.8)
    x = 214 * mm
    for i, (label, value) in enumerate((
        (LABEL_CODE, receipt.get("code")), (LABEL_NUMBER, receipt.get("number")),
        (LABEL_CHECK_CODE, receipt.get("check_code")), (LABEL_ISSUE_DATE, receipt.get("issue_date")),
    )):
        page.text(x, (15 + 6 * i) * mm, label + _clean(value), size=10, width=PAGE_W - MARGIN - x)


def _banner(page: _Page, receipt: dict):
    lifecycle = receipt.get("lifecycle") or "issued"
    if lifecycle == "issued":
        return
    label = LIFECYCLE_BANNERS.get(lifecycle) or _clean(receipt.get("display_status")) or lifecycle
    detail = receipt.get("lifecycle_detail") or {}
    parts = [BANNER_PREFIX + label]
    red = detail.get("red_receipt") or {}
    paper = detail.get("paper_receipt") or {}
    if red.get("code"):
        parts.append(f"红字票据：{_clean(red.get('code'))}-{_clean(red.get('number'))}")
    if paper.get("code"):
        parts.append(f"纸质票据：{_clean(paper.get('code'))}-{_clean(paper.get('number'))}")
    if detail.get("reason"):
        parts.append(f"原因：{_clean(detail.get('reason'))}")
    c = page.c
    # The watermark, under everything drawn after it.
    c.saveState()
    c.setFillColorRGB(*SEAL_COLOR)
    c.setFillAlpha(0.16)
    c.translate(PAGE_W / 2, PAGE_H / 2 - 10 * mm)
    c.rotate(20)
    c.setFont(FONT, 96 if len(label) <= 3 else 64)
    c.drawCentredString(0, 0, label)
    c.restoreState()
    # The banner under the title.
    top, height, x, w = 33 * mm, 9 * mm, 50 * mm, 158 * mm
    c.saveState()
    c.setFillColorRGB(*SEAL_COLOR)
    c.roundRect(x, page.y(top + height), w, height, 2 * mm, stroke=0, fill=1)
    c.restoreState()
    page.text(x + w / 2, top + 6.2 * mm, " · ".join(parts), size=12, width=w - 6 * mm, align="center",
              color=(1, 1, 1), bold=True)


def _qr(page: _Page, text: str, x: float, top: float, size: float):
    """`text` as a QR code (level M) drawn as filled squares, with a white quiet zone."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(text)
    code.make(fit=True)
    matrix = code.get_matrix()
    n = len(matrix)
    quiet = 4
    module = size / (n + 2 * quiet)
    c = page.c
    c.saveState()
    c.setFillColorRGB(1, 1, 1)
    c.rect(x, page.y(top + size), size, size, stroke=0, fill=1)
    c.setFillColorRGB(0, 0, 0)
    path = c.beginPath()
    for row, cells in enumerate(matrix):
        col = 0
        while col < n:
            if not cells[col]:
                col += 1
                continue
            start = col
            while col < n and cells[col]:
                col += 1
            px = x + (quiet + start) * module
            py = page.y(top + (quiet + row + 1) * module)
            path.rect(px, py, (col - start) * module, module)
    c.drawPath(path, stroke=0, fill=1)
    c.restoreState()


def _info_cells(receipt: dict) -> list[tuple[str, str]]:
    payer = receipt.get("payer") or {}
    visit = receipt.get("visit") or {}
    inpatient = receipt.get("kind") == "inpatient" or visit.get("visit_type") == "inpatient"
    id_type = payer.get("id_type")
    visit_type = visit.get("visit_type")
    if inpatient:
        dates = " 至 ".join(_clean(d) for d in (visit.get("admission_date"), visit.get("discharge_date")) if d)
        if visit.get("hospitalization_days") is not None:
            dates += f"（{visit['hospitalization_days']}天）"
        record = ("住院号：", visit.get("inpatient_no"))
        when = ("住院日期：", dates)
    else:
        record = ("病历号：", visit.get("medical_record_no"))
        when = ("就诊日期：", visit.get("visit_date"))
    return [
        (LABEL_PAYER, payer.get("name")),
        ("证件类型：", ID_TYPE_LABELS.get(id_type, id_type)),
        (LABEL_PAYER_ID, mask_id_number(payer.get("id_number")) if payer.get("id_number") else ""),
        ("就诊类型：", VISIT_TYPE_LABELS.get(visit_type) or KIND_LABELS.get(receipt.get("kind"), visit_type)),
        ("医保类型：", visit.get("insurance_type")),
        ("医保编号：", visit.get("insurance_no")),
        ("医疗机构类型：", visit.get("institution_type")),
        ("科别：", visit.get("department")),
        record,
        when,
        ("性别：", visit.get("gender")),
        ("年龄：", f"{visit['age']}岁" if visit.get("age") is not None else ""),
    ]


ITEM_COLUMNS = (("项目名称", 46 * mm), ("数量", 18 * mm), ("单位", 14 * mm), ("金额（元）", 26 * mm), ("备注", 0))


def _group_columns(x0: float, group_w: float):
    xs, x = [], x0
    for name, w in ITEM_COLUMNS:
        w = w or (x0 + group_w - x)
        xs.append((name, x, w))
        x += w
    return xs


def _items_table(page: _Page, items: list, top: float, rows: int, row_h: float = 6.5 * mm) -> float:
    """Two column groups side by side, filled row by row; returns the bottom."""
    header_h = 7 * mm
    group_w = CONTENT_W / 2
    groups = [_group_columns(MARGIN, group_w), _group_columns(MARGIN + group_w, group_w)]
    bottom = top + header_h + rows * row_h
    page.hline(MARGIN, PAGE_W - MARGIN, top + header_h)
    for g, columns in enumerate(groups):
        for i, (name, x, w) in enumerate(columns):
            if i or g:
                page.vline(x, top, bottom, width=0.9 if i == 0 else 0.4)
            page.text(x + w / 2, top + 4.8 * mm, name, size=9, align="center", width=w - 2 * mm)
    for r in range(1, rows):
        page.hline(MARGIN, PAGE_W - MARGIN, top + header_h + r * row_h, width=0.25)
    for index, item in enumerate(items):
        row, g = divmod(index, 2)
        baseline = top + header_h + row * row_h + 4.5 * mm
        values = (item.get("name"), item.get("quantity"), item.get("unit"), item.get("amount"), item.get("remark"))
        for (name, x, w), value in zip(groups[g], values):
            if name in ("数量", "金额（元）"):
                page.text(x + w - 1.5 * mm, baseline, value, size=9, width=w - 3 * mm, align="right")
            else:
                page.text(x + 1.5 * mm, baseline, value, size=9, width=w - 3 * mm, min_size=4.5)
    return bottom


def _grid_row(page: _Page, cells: list[tuple[str, str]], top: float, h: float, columns: int, min_size=4.0):
    w = CONTENT_W / columns
    for i, (label, value) in enumerate(cells):
        x = MARGIN + i * w
        if i:
            page.vline(x, top, top + h, width=0.4)
        page.text(x + 1.5 * mm, top + h - 2.3 * mm, label + _clean(value), size=9, width=w - 3 * mm, min_size=min_size)
    page.hline(MARGIN, PAGE_W - MARGIN, top + h, width=0.4)


def _seal(page: _Page, x: float, top: float, w: float, h: float, title: str, line: str):
    c = page.c
    c.saveState()
    c.setStrokeColorRGB(*SEAL_COLOR)
    c.setLineWidth(1.4)
    c.ellipse(x, page.y(top + h), x + w, page.y(top), stroke=1, fill=0)
    c.restoreState()
    page.text(x + w / 2, top + h / 2 - 0.5 * mm, title, size=11, align="center", color=SEAL_COLOR, bold=True,
              width=w - 12 * mm)
    page.text(x + w / 2, top + h / 2 + 5 * mm, line, size=7, align="center", color=SEAL_COLOR, width=w - 10 * mm,
              min_size=4)


def _wrap(text: str, size: float, width: float, max_lines: int) -> list[str]:
    lines, current = [], ""
    for ch in text:
        if pdfmetrics.stringWidth(current + ch, FONT, size) > width:
            lines.append(current)
            current = ""
        current += ch
    lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][:-1] + "…"
    return lines


def _footer(page: _Page, index: int, pages: int):
    page.text(PAGE_W - MARGIN, PAGE_H - 6 * mm, f"第 {index} 页 / 共 {pages} 页", size=7, align="right")


def _first_page(page, receipt, verify_url, items, total, capital, pages):
    _banner(page, receipt)
    _qr(page, verify_url, MARGIN + 2 * mm, 9 * mm, 28 * mm)
    page.text(MARGIN + 16 * mm, 41 * mm, "扫码查验", size=8, align="center")
    _header(page, receipt)

    top = 46 * mm
    frame_top = top
    cells = _info_cells(receipt)
    row_h = 7 * mm
    for r in range(3):
        _grid_row(page, cells[4 * r: 4 * r + 4], top, row_h, 4)
        top += row_h

    top = _items_table(page, items, top, FIRST_PAGE_ROWS)
    page.hline(MARGIN, PAGE_W - MARGIN, top, width=0.9)

    # 合计: capitals on the left, figures on the right.
    h = 7 * mm
    split = MARGIN + CONTENT_W * 0.68
    page.text(MARGIN + 1.5 * mm, top + h - 2.3 * mm, LABEL_TOTAL_CAPITAL + capital, size=10,
              width=split - MARGIN - 3 * mm, min_size=6, bold=True)
    page.vline(split, top, top + h, width=0.4)
    page.text(split + 1.5 * mm, top + h - 2.3 * mm, LABEL_TOTAL_FIGURES + _money(total), size=10,
              width=PAGE_W - MARGIN - split - 3 * mm, min_size=6, bold=True)
    page.hline(MARGIN, PAGE_W - MARGIN, top + h, width=0.6)
    top += h

    payments = receipt.get("payments") or {}
    labels = (
        ("医保统筹基金支付：", "fund_paid"), ("个人账户支付：", "account_paid"), ("个人现金支付：", "cash_paid"),
        ("其他支付：", "other_paid"), ("个人自付：", "self_pay"), ("个人自费：", "self_expense"),
    )
    cells = [(label, payments.get(field) or "") for label, field in labels]
    _grid_row(page, cells[:3], top, row_h, 3)
    top += row_h
    _grid_row(page, cells[3:], top, row_h, 3)
    top += row_h

    _grid_row(page, [("备注：", receipt.get("remark") or "")], top, row_h, 1)
    top += row_h
    page.box(MARGIN, frame_top, CONTENT_W, top - frame_top)

    issuer = receipt.get("issuer") or {}
    baseline = top + 6 * mm
    page.text(MARGIN + 1.5 * mm, baseline, LABEL_ISSUER + _clean(issuer.get("name")), size=10, width=108 * mm, min_size=4)
    page.text(MARGIN + 112 * mm, baseline, LABEL_CREDIT_CODE + _clean(issuer.get("credit_code")), size=9, width=70 * mm)
    page.text(MARGIN + 186 * mm, baseline, "复核人：" + _clean(receipt.get("checker")), size=10, width=42 * mm)
    page.text(MARGIN + 231 * mm, baseline, "收款人：" + _clean(receipt.get("clerk")), size=10, width=42 * mm)

    seal_top = baseline + 4 * mm
    signature = receipt.get("signature") or {}
    supervision = receipt.get("supervision_signature") or {}
    issuer_line = "（无）"
    if signature.get("value"):
        issuer_line = f"{_clean(signature.get('alg'))} · {_clean(signature['value'])[:16]}…"
    supervision_line = "（无）"
    if supervision.get("value") or supervision.get("kid"):
        supervision_line = f"{_clean(supervision.get('alg'))} · kid {_clean(supervision.get('kid'))}"
    _seal(page, MARGIN + 14 * mm, seal_top, 72 * mm, 24 * mm, "开票单位签章", issuer_line)
    _seal(page, MARGIN + 98 * mm, seal_top, 72 * mm, 24 * mm, "财政监制签章", supervision_line)

    x = MARGIN + 180 * mm
    width = PAGE_W - MARGIN - x
    line_top = seal_top + 5 * mm
    for line in _wrap("查验网址：" + _clean(verify_url), 7, width, 3):
        page.text(x, line_top, line, size=7)
        line_top += 3.5 * mm
    for line in _wrap("本版式文件由票夹平台生成并加盖电子签章（PAdES），票据状态以查验结果为准。", 7, width, 2):
        page.text(x, line_top, line, size=7, color=(0.35, 0.35, 0.35))
        line_top += 3.5 * mm
    _footer(page, 1, pages)


def _continuation_page(page, receipt, items, index, pages):
    _banner(page, receipt)
    title = _clean(receipt.get("title")) or "医疗收费票据（电子）"
    page.text(PAGE_W / 2, 16 * mm, f"{title} · 收费项目（续）", size=14, align="center", width=200 * mm, bold=True)
    page.text(MARGIN, 24 * mm, f"票据代码 {_clean(receipt.get('code'))}  票据号码 {_clean(receipt.get('number'))}", size=9)
    top = 44 * mm
    bottom = _items_table(page, items, top, NEXT_PAGE_ROWS, row_h=5.8 * mm)
    page.box(MARGIN, top, CONTENT_W, bottom - top)
    _footer(page, index, pages)


def _money(value: Decimal) -> str:
    return f"{value:.2f}"
