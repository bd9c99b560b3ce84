"""Layout files (版式文件): capital numerals, the rendered PDF (text, metadata, QR code), the
node's PAdES seal and the checks on a PDF someone hands us. No Flask app, no database.

The QR code is checked as a person's phone would: the page is rendered to pixels with
pypdfium2 and the code is decoded with zxing-cpp (both wheels from PyPI, no system package).
"""
import copy
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pypdfium2
import pytest
import zxingcpp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from backend.layout import (
    LayoutError,
    NodeSigner,
    content_digest,
    render_receipt_pdf,
    self_signed_certificate,
    to_chinese_capital,
    verify_layout,
)
from backend.layout.numerals import DIGITS
from tests import hostile_pdf
from tests.hostile_pdf import MIB
from tests.support import SAMPLE_RECEIPT, ZHANG_SAN_ID

KEY = "46060125-0000012345"
VERIFY_URL = f"https://piaojia.hainan.example/v/{KEY}?c=7Kq9Zx"
ISSUER_SIG = "Yj3kT1n0pQ9x2LmZ" + "q" * 70
KID = "Zk9t3Qm0pX1yR2sV4uW6aB8cD0eF2gH4iJ6kL8mN0oP"


# ---------------------------------------------------------------- capital numerals (大写)

CAPITALS = [
    ("356.80", "叁佰伍拾陆元捌角整"),
    ("1000.05", "壹仟元零伍分"),
    ("0", "零元整"),
    ("0.00", "零元整"),
    ("10790.50", "壹万零柒佰玖拾元伍角整"),
    # the examples of 正确填写票据和结算凭证的基本规定
    ("1680.32", "壹仟陆佰捌拾元叁角贰分"),
    ("107000.53", "壹拾万柒仟元伍角叁分"),
    ("1409.50", "壹仟肆佰零玖元伍角整"),
    ("6007.14", "陆仟零柒元壹角肆分"),
    ("325.04", "叁佰贰拾伍元零肆分"),
    # small amounts
    ("0.05", "伍分"),
    ("0.50", "伍角整"),
    ("0.55", "伍角伍分"),
    ("1", "壹元整"),
    ("10", "壹拾元整"),
    ("15", "壹拾伍元整"),
    ("100", "壹佰元整"),
    ("101", "壹佰零壹元整"),
    ("110", "壹佰壹拾元整"),
    ("1001", "壹仟零壹元整"),
    ("1010", "壹仟零壹拾元整"),
    ("1100", "壹仟壹佰元整"),
    # across 万
    ("10000", "壹万元整"),
    ("10001", "壹万零壹元整"),
    ("10010", "壹万零壹拾元整"),
    ("11000", "壹万壹仟元整"),
    ("20000.00", "贰万元整"),
    ("100000", "壹拾万元整"),
    ("200100", "贰拾万零壹佰元整"),
    ("1000000", "壹佰万元整"),
    ("10000000", "壹仟万元整"),
    ("10005000", "壹仟万伍仟元整"),
    ("10000500", "壹仟万零伍佰元整"),
    # across 亿
    ("100000000", "壹亿元整"),
    ("100000001", "壹亿零壹元整"),
    ("100010000", "壹亿零壹万元整"),
    ("110000000", "壹亿壹仟万元整"),
    ("101000000", "壹亿零壹佰万元整"),
    ("1000000000", "壹拾亿元整"),
    ("1000000001.01", "壹拾亿零壹元零壹分"),
    ("1000000000000", "壹万亿元整"),
    ("1000100000000", "壹万零壹亿元整"),
    ("1000000010000", "壹万亿零壹万元整"),
    ("1234567890123.45", "壹万贰仟叁佰肆拾伍亿陆仟柒佰捌拾玖万零壹佰贰拾叁元肆角伍分"),
    ("9999999999999.99", "玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    # a red receipt
    ("-356.80", "负叁佰伍拾陆元捌角整"),
]


@pytest.mark.parametrize("amount, words", CAPITALS)
def test_capital_numerals_known_values(amount, words):
    assert to_chinese_capital(Decimal(amount)) == words


def test_capital_numerals_take_strings_and_ints_but_not_floats_or_fractions_of_a_fen():
    assert to_chinese_capital("356.80") == to_chinese_capital(Decimal("356.8")) == "叁佰伍拾陆元捌角整"
    assert to_chinese_capital(12) == "壹拾贰元整"
    with pytest.raises(TypeError):
        to_chinese_capital(356.8)
    for bad in ("356.805", "abc", "NaN", "Infinity", ""):
        with pytest.raises(ValueError):
            to_chinese_capital(bad)


UNIT_VALUES = {"拾": 10, "佰": 100, "仟": 1000}


def parse_capital(words: str) -> Decimal:
    """An independent reader of capital amounts, to check the writer by round trip."""
    sign = -1 if words.startswith("负") else 1
    words = words.removeprefix("负")
    assert words.endswith(("整", "分")), words
    integer_part, _, fraction = words.rpartition("元") if "元" in words else ("", "", words)
    total = section = number = 0
    for ch in integer_part:
        if ch in DIGITS:
            number = DIGITS.index(ch)
        elif ch in UNIT_VALUES:
            section += number * UNIT_VALUES[ch]
            number = 0
        elif ch == "万":
            section = (section + number) * 10**4
            number = 0
        elif ch == "亿":
            total = (total + section + number) * 10**8
            section = number = 0
        else:
            raise AssertionError(f"unexpected {ch!r} in {words!r}")
    total += section + number
    fen = 0
    for digit, unit in re.findall(r"([壹贰叁肆伍陆柒捌玖])([角分])", fraction):
        fen += DIGITS.index(digit) * (10 if unit == "角" else 1)
    return sign * (Decimal(total) + Decimal(fen) / 100)


def sparse_amounts():
    """Amounts with many zeros in them, where the 零 rules bite."""
    digit = st.sampled_from("0000000123456789")
    return st.lists(digit, min_size=1, max_size=15).map(lambda ds: Decimal("".join(ds)).scaleb(-2))


@settings(max_examples=400, deadline=None, database=None)
@given(st.one_of(st.integers(min_value=0, max_value=10**15 - 1).map(lambda n: Decimal(n).scaleb(-2)), sparse_amounts()))
def test_capital_numerals_round_trip_and_zero_rules(amount):
    words = to_chinese_capital(amount)
    assert parse_capital(words) == amount
    if amount == 0:
        assert words == "零元整"
        return
    assert "零零" not in words
    assert not re.search(r"零[元万亿角分整]", words), words
    assert words.endswith("分") != words.endswith("整")
    assert re.fullmatch(r"[零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整]+", words)
    if amount >= 10:
        assert not words.startswith("拾")  # 壹拾 keeps its 壹


# ---------------------------------------------------------------- rendering

def make_receipt(**overrides) -> dict:
    receipt = copy.deepcopy(SAMPLE_RECEIPT)
    receipt.update(
        key=KEY, lifecycle="issued", display_status="正常",
        signature={"alg": "ES256", "value": ISSUER_SIG},
        supervision_signature={"alg": "ES256", "kid": KID, "value": "s" * 86},
    )
    receipt.update(overrides)
    return receipt


def page_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


@pytest.fixture(scope="module")
def receipt():
    return make_receipt()


@pytest.fixture(scope="module")
def pdf(receipt):
    return render_receipt_pdf(receipt, VERIFY_URL)


def test_the_page_carries_every_element_and_extracts_back(pdf):
    (text,) = page_texts(pdf)
    for expected in (
        "海南省医疗门诊收费票据（电子）",
        "票据代码：46060125", "票据号码：0000012345", "校验码：7Kq9Zx", "开票日期：2025-11-20",
        "交款人：张三", "证件类型：居民身份证", "证件号码：460***********1234",
        "医保类型：职工基本医疗保险", "医保编号：H46020000012345", "科别：内科", "病历号：MZ202511200001",
        "就诊日期：2025-11-20", "医疗机构类型：综合医院", "就诊类型：门诊",
        "项目名称", "数量", "单位", "金额（元）", "备注",
        "西药费", "检查费", "化验费", "156.80", "120.00", "80.00",
        "合计（大写）：叁佰伍拾陆元捌角整", "（小写）￥356.80",
        "医保统筹基金支付：200.00", "个人账户支付：50.00", "个人现金支付：106.80",
        "其他支付：0.00", "个人自付：136.80", "个人自费：20.00",
        "收款单位（章）：三亚中心医院", "统一社会信用代码：12460200428201234X",
        "复核人：李强", "收款人：王芳",
        "开票单位签章", f"ES256 · {ISSUER_SIG[:16]}…", "财政监制签章", f"kid {KID}",
        "扫码查验", VERIFY_URL,
    ):
        assert expected in text, expected
    assert ISSUER_SIG[:17] not in text  # only the first 16 characters of the seal's value
    assert "本票据" not in text  # no banner while the receipt is in force


def test_the_full_id_number_is_nowhere_in_the_file(pdf, receipt):
    texts = "".join(page_texts(pdf))
    assert ZHANG_SAN_ID not in texts
    assert ZHANG_SAN_ID.encode() not in pdf
    meta = PdfReader(io.BytesIO(pdf)).metadata
    assert all(ZHANG_SAN_ID not in str(v) for v in meta.values())
    assert receipt["payer"]["id_number"] == ZHANG_SAN_ID  # the renderer did not mask by mutating


def test_rendering_is_deterministic(receipt, pdf):
    assert render_receipt_pdf(copy.deepcopy(receipt), VERIFY_URL) == pdf
    assert render_receipt_pdf(receipt, VERIFY_URL + "x") != pdf


def test_metadata_names_the_receipt_and_its_content_digest(pdf, receipt):
    meta = PdfReader(io.BytesIO(pdf)).metadata
    assert meta["/Subject"] == KEY
    assert meta["/PiaojiaKey"] == KEY
    assert meta["/PiaojiaDigest"] == content_digest(receipt)
    assert meta["/PiaojiaLifecycle"] == "issued"
    assert meta["/CreationDate"] == "D:20251120101500+08'00'"
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", content_digest(receipt))


def test_content_digest_ignores_masking_and_status_but_not_content(receipt):
    digest = content_digest(receipt)
    masked = copy.deepcopy(receipt)
    masked["payer"]["id_number"] = "460***********1234"
    assert content_digest(masked) == digest
    changed_status = {**receipt, "lifecycle": "voided", "display_status": "已作废", "lock": {"unit": "x"},
                      "signature": {"alg": "ES256", "value": "other"}}
    assert content_digest(changed_status) == digest
    assert content_digest({**receipt, "total_amount": "356.81"}) != digest
    other_payer = copy.deepcopy(receipt)
    other_payer["payer"]["name"] = "李四"
    assert content_digest(other_payer) != digest


def decode_qr_codes(pdf: bytes, page_index=0, scale=3):
    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[page_index].render(scale=scale).to_pil()
    finally:
        document.close()
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return image, codes


def test_the_qr_code_on_the_page_decodes_to_the_verify_url(pdf):
    image, codes = decode_qr_codes(pdf)
    assert [c.text for c in codes] == [VERIFY_URL]
    corner = codes[0].position.top_left
    assert corner.x < image.width / 4 and corner.y < image.height / 4  # top left of the page


def test_a_long_verify_url_still_decodes():
    url = f"https://node-46.piaojia.example.gov.cn/api/v1/verify/layout/v/{KEY}?c=7Kq9Zx&lang=zh-CN&src=%E7%A5%A8"
    _, codes = decode_qr_codes(render_receipt_pdf(make_receipt(), url))
    assert [c.text for c in codes] == [url]


@pytest.mark.parametrize("lifecycle, label", [
    ("red_reversed", "已冲红"), ("paper_exchanged", "已换开纸质票据"), ("voided", "已作废"),
])
def test_a_receipt_no_longer_in_force_carries_a_banner(lifecycle, label):
    detail = {"reason": "患者退费"}
    if lifecycle == "red_reversed":
        detail["red_receipt"] = {"code": "46060125", "number": "0000012399", "check_code": "abc123"}
    if lifecycle == "paper_exchanged":
        detail["paper_receipt"] = {"code": "46010125", "number": "0000000077"}
    pdf = render_receipt_pdf(make_receipt(lifecycle=lifecycle, lifecycle_detail=detail), VERIFY_URL)
    (text,) = page_texts(pdf)
    assert f"本票据{label}" in text
    assert "原因：患者退费" in text
    if lifecycle == "red_reversed":
        assert "红字票据：46060125-0000012399" in text
    if lifecycle == "paper_exchanged":
        assert "纸质票据：46010125-0000000077" in text
    assert PdfReader(io.BytesIO(pdf)).metadata["/PiaojiaLifecycle"] == lifecycle
    assert verify_layout(pdf, [], require_signature=False)["banner"] == label


def test_many_items_continue_on_further_pages():
    items = [{"code": f"C{i:04d}", "name": f"治疗项目{i:02d}", "quantity": "1", "unit": "次",
              "rate": "1.00", "amount": "1.00", "remark": ""} for i in range(70)]
    pdf = render_receipt_pdf(make_receipt(items=items, total_amount="70.00"), VERIFY_URL)
    texts = page_texts(pdf)
    assert len(texts) == 3  # 16 on the first page, 48 on the second, 6 on the third
    joined = "".join(texts)
    for i in range(70):
        assert f"治疗项目{i:02d}" in joined
    assert "治疗项目15" in texts[0] and "治疗项目16" not in texts[0]
    assert "收费项目（续）" in texts[1] and "第 3 页 / 共 3 页" in texts[2]
    assert "合计（大写）：柒拾元整" in texts[0]


def test_an_inpatient_receipt_shows_its_stay():
    receipt = make_receipt(kind="inpatient", title="海南省医疗住院收费票据（电子）")
    receipt["visit"] = {"visit_type": "inpatient", "admission_date": "2025-11-01", "discharge_date": "2025-11-10",
                        "hospitalization_days": 9, "inpatient_no": "ZY2025110001", "department": "外科",
                        "gender": "男", "age": 45}
    (text,) = page_texts(render_receipt_pdf(receipt, VERIFY_URL))
    for expected in ("海南省医疗住院收费票据（电子）", "住院号：ZY2025110001", "住院日期：2025-11-01 至 2025-11-10（9天）",
                     "就诊类型：住院", "性别：男", "年龄：45岁", "科别：外科"):
        assert expected in text, expected


def test_a_bare_receipt_renders_and_an_odd_total_is_refused():
    receipt = copy.deepcopy(SAMPLE_RECEIPT)  # no key, status, signatures, clerk or optional splits
    for field in ("clerk", "checker"):
        receipt.pop(field)
    receipt["payments"] = {k: v for k, v in receipt["payments"].items() if k not in ("self_pay", "self_expense")}
    receipt["visit"] = {"visit_type": "outpatient"}
    receipt["items"][0]["remark"] = "line one\nline two\x00"
    pdf = render_receipt_pdf(receipt, VERIFY_URL)
    (text,) = page_texts(pdf)
    assert "开票单位签章" in text and "（无）" in text
    assert "line one line two" in text
    assert PdfReader(io.BytesIO(pdf)).metadata["/PiaojiaKey"] == KEY  # derived from code and number
    with pytest.raises(ValueError):
        render_receipt_pdf({**receipt, "total_amount": "12.345"}, VERIFY_URL)
    with pytest.raises(ValueError):
        render_receipt_pdf({**receipt, "total_amount": "abc"}, VERIFY_URL)


NAME_CHARS = st.sampled_from("张王李赵钱孙周吴郑冯陈褚卫蒋沈韩杨朱秦许何吕施喆珺堃燊犇淼鑫·ABCXYZabcxyz ")


@settings(max_examples=25, deadline=None, database=None)
@given(payer=st.text(NAME_CHARS, min_size=1, max_size=20).map(lambda s: " ".join(s.split())).filter(bool),
       issuer=st.text(NAME_CHARS, min_size=2, max_size=30).map(lambda s: " ".join(s.split())).filter(bool))
def test_names_read_back_exactly(payer, issuer):
    receipt = make_receipt()
    receipt["payer"] = {**receipt["payer"], "name": payer}
    receipt["issuer"] = {**receipt["issuer"], "name": issuer}
    result = verify_layout(render_receipt_pdf(receipt, VERIFY_URL), [], require_signature=False)
    assert result["elements"]["payer_name"] == payer
    assert result["elements"]["issuer_name"] == issuer


# ---------------------------------------------------------------- signing and verification

def new_key_pem(curve=None) -> bytes:
    return ec.generate_private_key(curve or ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


@pytest.fixture(scope="module")
def node():
    return NodeSigner(new_key_pem(), common_name="Piaojia node 46")


@pytest.fixture(scope="module")
def stranger():
    return NodeSigner(new_key_pem(), common_name="Piaojia node 99")


@pytest.fixture(scope="module")
def signed(node, pdf):
    return node.sign(pdf)


def test_a_signed_layout_file_verifies_as_intact_trusted_and_whole(signed, node, receipt):
    result = verify_layout(signed, [node.cert_pem])
    assert result["signed"] and result["intact"] and result["trusted"] and result["valid"]
    assert result["coverage"] == "entire_file"
    assert result["signer"] == "Piaojia node 46"
    assert result["signer_fingerprint"] == node.fingerprint
    signed_at = datetime.fromisoformat(result["signed_at"])
    assert abs(datetime.now(UTC) - signed_at) < timedelta(minutes=10)
    assert result["key"] == KEY
    assert result["digest"] == content_digest(receipt)
    assert result["lifecycle"] == "issued" and result["banner"] is None
    assert result["elements"] == {
        "code": "46060125", "number": "0000012345", "check_code": "7Kq9Zx", "issue_date": "2025-11-20",
        "total_amount": "356.80", "total_amount_capital": "叁佰伍拾陆元捌角整", "payer_name": "张三",
        "payer_id_number": "460***********1234", "issuer_name": "三亚中心医院",
        "issuer_credit_code": "12460200428201234X",
    }
    assert [s["field"] for s in result["signatures"]] == ["PiaojiaSeal"]


def test_signing_keeps_the_page_and_the_qr_code(signed, pdf):
    assert signed.startswith(pdf)  # an incremental update: the rendered bytes stay as they were
    assert page_texts(signed) == page_texts(pdf)
    assert [c.text for c in decode_qr_codes(signed)[1]] == [VERIFY_URL]


def test_elements_with_spaces_and_brackets_read_back(node):
    receipt = make_receipt()
    receipt["payer"] = {"name": "John Smith", "id_type": "passport", "id_number": "E12345678"}
    receipt["issuer"] = {"name": "海南省人民医院（秀英院区）", "credit_code": "12460000428201234X"}
    result = verify_layout(node.sign(render_receipt_pdf(receipt, VERIFY_URL)), [node.cert_pem])
    assert result["elements"]["payer_name"] == "John Smith"
    assert result["elements"]["payer_id_number"] == "E12**5678"
    assert result["elements"]["issuer_name"] == "海南省人民医院（秀英院区）"


def test_a_flipped_byte_in_the_signed_content_is_not_intact(signed, node):
    start = signed.index(b"/PiaojiaKey (") + len(b"/PiaojiaKey (") + 3
    tampered = bytearray(signed)
    tampered[start] ^= 0x01  # one digit of the key becomes another digit
    result = verify_layout(bytes(tampered), [node.cert_pem])
    assert result["signed"] is True
    assert result["intact"] is False and result["valid"] is False and result["trusted"] is False


def signed_ranges(data: bytes):
    match = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data)
    a, b, c, d = map(int, match.groups())
    return (a, a + b), (c, c + d)


def test_no_flipped_byte_anywhere_in_the_signed_ranges_passes(signed, node):
    (a0, a1), (c0, c1) = signed_ranges(signed)
    assert a0 == 0 and c1 == len(signed)
    positions = [a0 + (a1 - a0) * i // 24 for i in range(24)] + [c0 + (c1 - c0) * i // 8 for i in range(8)]
    for position in positions:
        tampered = bytearray(signed)
        tampered[position] ^= 0x20
        try:
            result = verify_layout(bytes(tampered), [node.cert_pem])
        except LayoutError:
            continue  # refused as broken: as good as not intact
        assert not result["valid"], position
        assert not (result["intact"] and result["trusted"] and result["coverage"] == "entire_file"), position


def test_an_update_appended_after_signing_is_not_covered_and_does_not_change_the_answer(signed, node):
    writer = PdfWriter(io.BytesIO(signed), incremental=True)
    writer.add_metadata({"/PiaojiaKey": "46060125-9999999999", "/Subject": "46060125-9999999999"})
    out = io.BytesIO()
    writer.write(out)
    updated = out.getvalue()
    assert updated.startswith(signed) and len(updated) > len(signed)
    assert PdfReader(io.BytesIO(updated)).metadata["/PiaojiaKey"] == "46060125-9999999999"

    result = verify_layout(updated, [node.cert_pem])
    assert result["coverage"] != "entire_file"
    assert result["coverage"] == "entire_revision"
    assert result["valid"] is False
    assert result["intact"] and result["trusted"]  # the signed revision itself is fine
    assert result["key"] == KEY  # read from what was signed, not from the appended update


def test_a_file_signed_by_another_key_is_not_trusted(stranger, node, pdf):
    result = verify_layout(stranger.sign(pdf), [node.cert_pem])
    assert result["signed"] and result["intact"]
    assert result["trusted"] is False and result["valid"] is False
    assert result["signer"] == "Piaojia node 99"
    assert verify_layout(stranger.sign(pdf), [node.cert_pem, stranger.cert_pem])["trusted"] is True
    assert verify_layout(stranger.sign(pdf), [])["trusted"] is False


def test_a_signature_added_by_another_key_after_ours_is_reported(signed, node):
    other = NodeSigner(new_key_pem(), common_name="Somebody", field_name="OtherSeal")
    resigned = other.sign(signed)
    result = verify_layout(resigned, [node.cert_pem])
    assert result["trusted"] is False and result["valid"] is False
    assert result["signer"] == "Somebody" and result["coverage"] == "entire_file"
    first, last = result["signatures"]
    assert first["field"] == "PiaojiaSeal" and first["trusted"] and first["coverage"] == "entire_revision"
    assert last["field"] == "OtherSeal" and not last["trusted"]


@pytest.mark.parametrize("data", [b"", b"hello world", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, b"%PDX-1.7\n%%EOF", b" %PDF-1.7"])
def test_not_a_pdf_is_refused(data, node):
    with pytest.raises(LayoutError) as err:
        verify_layout(data, [node.cert_pem])
    assert err.value.code == "not_a_pdf"


def test_a_truncated_pdf_is_refused(signed, node):
    for cut in (signed[: len(signed) // 2], signed[:-8], signed[:100]):
        with pytest.raises(LayoutError) as err:
            verify_layout(cut, [node.cert_pem])
        assert err.value.code == "truncated"


def test_an_oversized_input_is_refused(signed, node):
    with pytest.raises(LayoutError) as err:
        verify_layout(signed, [node.cert_pem], max_bytes=len(signed) - 1)
    assert err.value.code == "too_large"
    assert verify_layout(signed, [node.cert_pem], max_bytes=len(signed))["valid"]
    with pytest.raises(LayoutError) as err:
        verify_layout(b"%PDF-1.7\n" + b"0" * 2_000_000 + b"\n%%EOF\n", [node.cert_pem])
    assert err.value.code == "too_large"


def test_an_unsigned_pdf_is_refused_unless_asked_to_read_it(pdf, node):
    with pytest.raises(LayoutError) as err:
        verify_layout(pdf, [node.cert_pem])
    assert err.value.code == "unsigned"
    result = verify_layout(pdf, [node.cert_pem], require_signature=False)
    assert result["signed"] is False and result["intact"] is False and result["valid"] is False
    assert result["key"] == KEY and result["elements"]["number"] == "0000012345"


def test_garbage_that_looks_like_a_pdf_is_malformed(node):
    with pytest.raises(LayoutError) as err:
        verify_layout(b"%PDF-1.7\nthis is not really a pdf\n%%EOF\n", [node.cert_pem])
    assert err.value.code == "malformed"


def test_verify_wants_bytes(signed, node):
    with pytest.raises(TypeError):
        verify_layout(signed.decode("latin-1"), [node.cert_pem])


def test_the_self_signed_certificate_is_reproducible_and_fit_for_signing():
    key = ec.generate_private_key(ec.SECP256R1())
    pem = self_signed_certificate(key, "Piaojia node 46")
    assert self_signed_certificate(key, "Piaojia node 46") == pem  # same in every worker, every restart
    assert self_signed_certificate(key, "Piaojia node 44") != pem
    cert = x509.load_pem_x509_certificate(pem)
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "Piaojia node 46"
    assert cert.issuer == cert.subject
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days >= 3650
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert NodeSigner(key_pem, common_name="Piaojia node 46").cert_pem == pem
    assert NodeSigner(key_pem.decode(), pem.decode()).cert_pem == pem  # str is fine too


def test_node_signer_refuses_a_foreign_certificate_or_a_key_that_is_not_p256(node):
    with pytest.raises(ValueError):
        NodeSigner(new_key_pem(), node.cert_pem)
    with pytest.raises(ValueError):
        NodeSigner(new_key_pem(ec.SECP384R1()))
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(ValueError):
        NodeSigner(rsa_pem)


# ---------------------------------------------------------------- hostile files (issue 17)

def _peak_memory(call):
    """Runs `call`; returns (its result or the LayoutError it raised, the peak of memory traced meanwhile)."""
    import tracemalloc

    tracemalloc.start()
    try:
        try:
            outcome = call()
        except LayoutError as err:
            outcome = err
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("indirect", [True, False], ids=["encrypt-reference", "encrypt-dictionary"])
def test_an_encrypted_trailer_with_broken_settings_is_refused_as_encrypted(node, indirect):
    with pytest.raises(LayoutError) as err:
        verify_layout(hostile_pdf.encrypted_trailer_pdf(indirect), [node.cert_pem])
    assert err.value.code == "encrypted"


def test_a_bomb_in_the_page_stops_decoding_at_the_cap(stranger, node):
    bomb = stranger.sign(hostile_pdf.content_bomb_pdf(64 * MIB))  # 64 MiB of content in ~70 KB
    assert len(bomb) < 100_000
    outcome, peak = _peak_memory(lambda: verify_layout(bomb, [node.cert_pem]))
    assert isinstance(outcome, LayoutError) and outcome.code == "too_complex"
    assert peak < 8 * MIB  # the stream was not inflated beyond the cap
    with pytest.raises(LayoutError) as err:
        verify_layout(hostile_pdf.content_bomb_pdf(2 * MIB), [node.cert_pem], require_signature=False)
    assert err.value.code == "too_complex"
    # Just under the cap is read as usual: the cap, not the shape, refuses.
    small = verify_layout(hostile_pdf.content_bomb_pdf(MIB // 2), [node.cert_pem], require_signature=False)
    assert small["signed"] is False


def test_a_bomb_in_the_object_stream_of_the_catalog_stops_at_the_cap(node):
    with pytest.raises(LayoutError) as err:
        verify_layout(hostile_pdf.object_stream_bomb_pdf(3 * MIB), [node.cert_pem])
    assert err.value.code == "too_complex"
    with pytest.raises(LayoutError) as err:
        verify_layout(hostile_pdf.object_stream_bomb_pdf(0), [node.cert_pem])
    assert err.value.code == "unsigned"  # the same file, small: read, and found unsigned


def test_a_file_that_is_not_valid_is_not_read_beyond_its_signatures_when_asked(stranger, node, pdf):
    bomb = stranger.sign(hostile_pdf.content_bomb_pdf(64 * MIB))
    result, peak = _peak_memory(lambda: verify_layout(bomb, [node.cert_pem], read_untrusted=False))
    assert result["signed"] and not result["valid"] and result["signer"] == "Piaojia node 99"
    assert result["key"] is None and set(result["elements"].values()) == {None}
    assert peak < 2 * MIB
    unread = verify_layout(stranger.sign(pdf), [node.cert_pem], read_untrusted=False)
    assert unread["key"] is None and unread["elements"]["check_code"] is None
    read = verify_layout(node.sign(pdf), [node.cert_pem], read_untrusted=False)
    assert read["valid"] and read["key"] == KEY and read["elements"]["check_code"] == "7Kq9Zx"


def test_the_work_bounds_leave_room_for_a_long_receipt(node):
    receipt = make_receipt()
    receipt["items"] = [dict(receipt["items"][0], name="超" * 40, remark="长" * 60) for _ in range(300)]
    result = verify_layout(node.sign(render_receipt_pdf(receipt, VERIFY_URL)), [node.cert_pem])
    assert result["valid"] and result["elements"]["number"] == "0000012345"
