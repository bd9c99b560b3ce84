"""Layout files over the API (DESIGN §10): download, verify, the printed QR's page."""
import io

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from backend.layout import NodeSigner
from tests.support import ZHANG_SAN_ID, UnitClient, citizen_login, receipt_key


def _verify(client, data: bytes, name="receipt.pdf"):
    return client.post("/api/v1/verify/layout", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_a_citizen_downloads_a_layout_file_that_anyone_can_verify_with_its_live_status(client, operator):
    hospital = operator.register_hospital()
    _, sent = hospital.issue(payer_id=ZHANG_SAN_ID)
    key = receipt_key(sent)
    zhang = citizen_login(client)
    pdf = client.get(f"/api/v1/me/receipts/{key}/layout.pdf", headers=zhang)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert ZHANG_SAN_ID.encode() not in pdf.data
    checked = _verify(client, pdf.data)
    assert checked.status_code == 200, checked.json
    body = checked.json
    assert body["valid"] and body["trusted"] and body["intact"] and body["matches_record"] and body["key"] == key
    assert body["display_status"] == "正常" and body["elements"]["total_amount"] == sent["total_amount"]
    # The file stays the same; the status it leads to is live.
    unit = UnitClient.open(operator)
    lock = unit.lock_with_proof(sent).json
    unit.feedback(key, lock["lock_token"], amount="100.00")
    assert _verify(client, pdf.data).json["display_status"] == "部分报销"
    cert = client.get("/api/v1/platform/layout-cert.pem")
    assert cert.status_code == 200 and cert.data.startswith(b"-----BEGIN CERTIFICATE-----")
    # A unit that may see the receipt downloads it too, and the citizen sees that read.
    assert unit.get(f"/receipts/{key}/layout.pdf").status_code == 200
    log = client.get(f"/api/v1/me/receipts/{key}/access-log", headers=zhang).json["items"]
    assert any(entry["accessor"]["name"] == unit.name for entry in log)
    stranger = UnitClient.open(operator)
    assert stranger.get(f"/receipts/{key}/layout.pdf").status_code == 404


def test_tampered_resigned_truncated_and_foreign_files_are_refused(client, operator):
    _, sent = operator.register_hospital().issue(payer_id=ZHANG_SAN_ID)
    pdf = client.get(f"/api/v1/me/receipts/{receipt_key(sent)}/layout.pdf", headers=citizen_login(client)).data
    flipped = bytearray(pdf)
    middle = len(flipped) // 3
    flipped[middle] = flipped[middle] ^ 0x01
    answer = _verify(client, bytes(flipped))
    assert answer.status_code == 422 or not answer.json["valid"], answer.json
    other_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    resigned = NodeSigner(other_key, common_name="Someone else", field_name="OtherSeal").sign(pdf)
    answer = _verify(client, resigned)
    assert answer.status_code == 200 and not answer.json["valid"]
    assert _verify(client, pdf[: len(pdf) // 2]).json["code"].startswith("layout_")
    not_pdf = _verify(client, b"hello, this is not a PDF at all")
    assert not_pdf.status_code == 422 and not_pdf.json["code"] == "layout_not_a_pdf"
    assert _verify(client, b"%PDF-1.7\n" + b"0" * (2 * 1024 * 1024 + 10)).status_code in (413, 422)
    assert client.post("/api/v1/verify/layout", data={}, content_type="multipart/form-data").status_code == 422


def test_the_printed_qr_opens_a_verification_page_with_nothing_personal(client, operator):
    _, sent = operator.register_hospital().issue(payer_id=ZHANG_SAN_ID)
    key = receipt_key(sent)
    page = client.get(f"/v/{key}?c={sent['check_code']}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "查验通过" in text and "正常" in text and "三亚中心医院" in text
    assert "张三" not in text and ZHANG_SAN_ID not in text and "script-src 'none'" in page.headers["Content-Security-Policy"]
    wrong = client.get(f"/v/{key}?c=ZZZZZZ")
    assert wrong.status_code == 404 and "未通过查验" in wrong.get_data(as_text=True)
