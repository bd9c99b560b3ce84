"""Layout files over the API (DESIGN §10): download, verify, the printed QR's page."""
import io

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from backend.common.attempts import limit_of
from backend.layout import NodeSigner, render_receipt_pdf
from tests import hostile_pdf
from tests.hostile_pdf import MIB
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


# ---------------------------------------------------------------- hostile files and guessing (issue 17)

def _stranger() -> NodeSigner:
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return NodeSigner(key, common_name="Piaojia node 46")  # the node's name, not its key


def _peak_memory(call):
    import tracemalloc

    tracemalloc.start()
    try:
        return call(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


NOT_AUTHENTIC = {"key": None, "elements": {}, "matches_record": False, "mismatches": [], "display_status": None, "lifecycle": None}


@pytest.mark.parametrize("indirect", [True, False], ids=["encrypt-reference", "encrypt-dictionary"])
def test_an_encrypted_trailer_is_a_422_problem_not_a_500(client, indirect):
    answer = _verify(client, hostile_pdf.encrypted_trailer_pdf(indirect))
    assert answer.status_code == 422 and answer.mimetype == "application/problem+json", answer.get_data(as_text=True)
    assert answer.json["code"] == "layout_encrypted"


def test_a_binary_pdf_passes_the_request_guard_but_nul_in_the_form_text_does_not(client):
    data = _stranger().sign(hostile_pdf.binary_pdf())
    assert b"\x00" in data
    answer = _verify(client, data)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.json["signed"] and not answer.json["valid"]
    for form in ({"file": (io.BytesIO(data), "receipt.pdf"), "note": "a\x00b"},
                 {"file": (io.BytesIO(data), "receipt\x00.pdf")}):
        refused = client.post("/api/v1/verify/layout", data=form, content_type="multipart/form-data")
        assert refused.status_code == 400 and refused.json["code"] == "invalid_characters"
    assert client.post("/api/v1/verify", data=b'{"code": "\x00"}', content_type="application/json").json["code"] == "invalid_characters"


def test_a_signed_decompression_bomb_is_answered_without_inflating_it(client):
    """The probe's shape: a small self-signed PDF whose page inflates to 64 MiB."""
    bomb = _stranger().sign(hostile_pdf.content_bomb_pdf(64 * MIB))
    assert len(bomb) < 100_000
    answer, peak = _peak_memory(lambda: _verify(client, bomb))
    assert answer.status_code == 200 and answer.json["valid"] is False
    assert peak < 8 * MIB  # nothing inflated: only the signature was read


def test_a_bomb_the_signature_check_must_read_is_a_422_problem_at_the_cap(client):
    bomb = hostile_pdf.object_stream_bomb_pdf(3 * MIB)
    answer, peak = _peak_memory(lambda: _verify(client, bomb))
    assert answer.status_code == 422 and answer.mimetype == "application/problem+json"
    assert answer.json["code"] == "layout_too_complex"
    assert peak < 3 * MIB


def test_a_self_signed_file_reveals_no_mismatch_and_no_status(client, operator):
    """A home-made file of a real receipt is not authentic, and that is all it learns: no
    element compared (no check-code oracle), no live status."""
    _, sent = operator.register_hospital().issue(payer_id=ZHANG_SAN_ID)
    key = receipt_key(sent)
    answer = client.get(f"/api/v1/me/receipts/{key}", headers=citizen_login(client)).json
    stranger = _stranger()
    for check_code in ("ZZZZZZ", sent["check_code"]):
        forged = stranger.sign(render_receipt_pdf({**answer, "check_code": check_code}, f"https://x.example/v/{key}"))
        body = _verify(client, forged).json
        assert body["valid"] is False and body["signed"] is True and body["trusted"] is False
        assert {name: body[name] for name in NOT_AUTHENTIC} == NOT_AUTHENTIC, body
    # The node's own file of it is still compared and shows the live status.
    own = client.get(f"/api/v1/me/receipts/{key}/layout.pdf", headers=citizen_login(client)).data
    body = _verify(client, own).json
    assert body["valid"] and body["matches_record"] and body["display_status"] == "正常" and body["key"] == key


def test_wrong_check_codes_on_the_qr_page_are_counted_and_limited(client, operator):
    _, sent = operator.register_hospital().issue(payer_id=ZHANG_SAN_ID)
    key = receipt_key(sent)
    statuses = [client.get(f"/v/{key}?c=Z{i:05d}").status_code for i in range(80)]
    assert 429 in statuses, statuses
    first_refusal = statuses.index(429)
    assert 0 < first_refusal <= limit_of("PROOF_FAILURES_PER_ADDRESS")
    assert set(statuses[:first_refusal]) == {404} and set(statuses[first_refusal:]) == {429}
    refused = client.get(f"/v/{key}?c=ZZZZZZ")
    assert refused.status_code == 429 and refused.mimetype == "text/html" and int(refused.headers["Retry-After"]) > 0
    assert "查验次数过多" in refused.get_data(as_text=True)
    # Another address is not limited by this one's guesses.
    other = client.get(f"/v/{key}?c={sent['check_code']}", environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert other.status_code == 200


def test_check_codes_sprayed_over_keys_share_the_address_limit_with_verify(client, operator):
    _, sent = operator.register_hospital().issue(payer_id=ZHANG_SAN_ID)
    limit = limit_of("PROOF_FAILURES_PER_ADDRESS")
    statuses = [client.get(f"/v/46060125-{i:010d}?c=ZZZZZZ").status_code for i in range(limit + 20)]
    assert statuses[:limit] == [404] * limit and set(statuses[limit:]) == {429}
    elements = {k: sent[k] for k in ("code", "number", "check_code", "issue_date", "total_amount")}
    assert client.post("/api/v1/verify", json=elements).json["code"] == "too_many_attempts"


def test_every_page_and_answer_says_nosniff(client, operator):
    _, sent = operator.register_hospital().issue(payer_id=ZHANG_SAN_ID)
    key = receipt_key(sent)
    for path in (f"/v/{key}?c={sent['check_code']}", f"/v/{key}?c=ZZZZZZ", "/", "/q/not-a-token", "/api/v1/verify", "/nowhere"):
        assert client.get(path).headers.get("X-Content-Type-Options") == "nosniff", path
