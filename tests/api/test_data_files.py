"""Receipts as national data files over the API (DESIGN §11): a hospital that can only
produce SM2-signed data files pushes, reverses and voids; citizens and units download the
complete file with both seals; anyone checks it at /verify/data-file; hostile files get a
clear 4xx."""
import base64
import re
import shutil
import subprocess

import pytest
from sqlalchemy import select

from backend import datafile
from backend.extensions import db
from backend.receipts import signing, sm2
from backend.receipts.models import Receipt, ReceiptDataFile
from tests.api.test_sm2_issuer import register
from tests.support import Hospital, UnitClient, citizen_login, receipt_key


class DataFileHospital(Hospital):
    """A hospital's billing system that issues national data files sealed with SM2."""

    def data_file(self, **overrides) -> tuple[bytes, dict]:
        receipt = self.receipt(**overrides)
        xml = datafile.from_receipt(receipt, header_id=f"HIS-{receipt['number']}")
        return datafile.sign_invoicing_party(xml, "SM2", self.private_key, serial="HIS-SM2-1"), receipt

    def push_file(self, xml: bytes):
        return self.push("receipt.issued", {"data_file": base64.b64encode(xml).decode()})


@pytest.fixture()
def hospital(operator):
    key = sm2.generate_private_key()
    resp = register(operator, key.public_key.to_pem())
    assert resp.status_code == 201, resp.json
    return DataFileHospital(operator.client, resp.json["id"], resp.json["webhook_secret"], key, "三亚中心医院", "12460200428201234X")


def stored_file(key: str) -> ReceiptDataFile:
    code, number = key.split("-")
    receipt_id = db.session.scalar(select(Receipt.id).where(Receipt.code == code, Receipt.number == number))
    return db.session.get(ReceiptDataFile, receipt_id) if receipt_id is not None else None


def test_a_pushed_data_file_is_kept_unchanged_and_given_back_with_the_finance_seal(client, hospital, operator):
    xml, receipt = hospital.data_file()
    resp = hospital.push_file(xml)
    assert resp.status_code == 202, resp.get_data(as_text=True)
    key = receipt_key(receipt)
    kept = stored_file(key)
    assert bytes(kept.original) == xml and kept.source == "issuer"  # the legal original, byte for byte
    zhang = citizen_login(client)
    mine = client.get(f"/api/v1/me/receipts/{key}", headers=zhang).json
    assert mine["total_amount"] == receipt["total_amount"] and mine["signature"]["alg"] == "SM2"
    got = client.get(f"/api/v1/me/receipts/{key}/data-file", headers=zhang)
    assert got.status_code == 200 and got.mimetype == "application/xml"
    complete = got.get_data()
    signer = signing.platform_signer()
    assert datafile.verify(complete, datafile.INVOICING_PARTY, hospital.private_key.public_key.to_pem(), alg="SM2").valid
    assert datafile.verify(complete, datafile.SUPERVISOR, signer.public_key, alg=signer.alg).valid
    assert datafile.parse(complete).seals[datafile.SUPERVISOR].id == signer.kid[:64]
    # The same file pushed again is a no-op; the complete one is not the issuer's to push.
    assert hospital.push_file(xml).json["result"] == "unchanged"
    assert hospital.push_file(complete).json["code"] == "data_file_supervisor_present"
    lisi = citizen_login(client, "lisi")
    assert client.get(f"/api/v1/me/receipts/{key}/data-file", headers=lisi).status_code == 404


def test_a_data_file_receipt_is_reversed_and_voided_like_any_other(client, hospital):
    xml, receipt = hospital.data_file()
    assert hospital.push_file(xml).status_code == 202
    voided = hospital.push("receipt.voided", {"code": receipt["code"], "number": receipt["number"], "reason": "重复开具"})
    assert voided.status_code == 202, voided.get_data(as_text=True)
    zhang = citizen_login(client)
    assert client.get(f"/api/v1/me/receipts/{receipt_key(receipt)}", headers=zhang).json["lifecycle"] == "voided"
    xml2, second = hospital.data_file()
    assert hospital.push_file(xml2).status_code == 202
    red = hospital.push("receipt.red_reversed", {"code": second["code"], "number": second["number"], "reason": "录入错误",
                                                 "red_receipt": {"code": second["code"], "number": "0900000001", "check_code": "RED001"}})
    assert red.status_code == 202, red.get_data(as_text=True)


def test_a_batch_mixes_data_files_and_json(client, hospital, operator):
    xml, first = hospital.data_file()
    tampered = xml.replace(b"<TotalAmount>356.80</TotalAmount>", b"<TotalAmount>356.81</TotalAmount>")
    resp = hospital.push("receipt.batch", {"receipts": [{"data_file": base64.b64encode(xml).decode()},
                                                        {"data_file": base64.b64encode(tampered).decode()}]})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    results = resp.json["results"]
    assert results[0]["result"] == "applied" and results[0]["key"] == receipt_key(first)
    assert results[1]["result"] == "refused" and results[1]["code"] == "invalid_data_file_signature"
    assert bytes(stored_file(receipt_key(first)).original) == xml


@pytest.mark.parametrize("shape,code,status", [
    (lambda xml: b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>' + xml.split(b"?>", 1)[-1],
     "data_file_dtd_forbidden", 422),
    (lambda xml: xml.replace(b"<EInvoice>", b'<EInvoice xmlns="urn:other">'), "data_file_wrong_namespace", 422),
    (lambda xml: xml.replace(b"<TotalAmount>356.80</TotalAmount>", b"<TotalAmount>1e3</TotalAmount>"), "data_file_invalid_value", 422),
    (lambda xml: xml.replace(b"<IssueDate>", b"<IssueDate>2025-").replace(b"</IssueDate>", b"</IssueDate>", 1), None, 422),
    (lambda xml: xml.replace(b"<TotalAmount>356.80</TotalAmount>", b"<TotalAmount>356.80</TotalAmount><TotalAmount>1.00</TotalAmount>"),
     "data_file_duplicate_element", 422),
    (lambda xml: b"<EInvoice>" + b"<a>" * 10_000 + b"</a>" * 10_000 + b"</EInvoice>", None, 422),
])
def test_hostile_data_files_are_a_clear_4xx_and_store_nothing(hospital, shape, code, status):
    xml, receipt = hospital.data_file()
    resp = hospital.push_file(shape(xml))
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json" and re.fullmatch(r"[a-z_]+", resp.json["code"])
    assert code is None or resp.json["code"] == code
    assert stored_file(receipt_key(receipt)) is None


def test_a_data_file_sealed_by_another_key_or_not_base64_is_refused(hospital):
    other = sm2.generate_private_key()
    receipt = hospital.receipt()
    forged = datafile.sign_invoicing_party(datafile.from_receipt(receipt, header_id="X-1"), "SM2", other)
    resp = hospital.push_file(forged)
    assert resp.status_code == 422 and resp.json["code"] == "invalid_data_file_signature"
    assert hospital.push("receipt.issued", {"data_file": "not base64!"}).json["code"] == "data_file_malformed"
    assert hospital.push("receipt.issued", {"data_file": "", "extra": 1}).json["code"] == "data_file_malformed"


def test_a_json_receipt_gets_a_generated_data_file_that_a_unit_downloads_and_anyone_checks(client, operator):
    json_hospital = operator.register_hospital(name="海口市人民医院", credit_code="12460100428201234X")
    _, sent = json_hospital.issue()
    key = receipt_key(sent)
    unit = UnitClient.open(operator)
    assert unit.lock_with_proof(sent).status_code == 201
    got = client.get(f"/api/v1/unit/receipts/{key}/data-file", headers=unit.headers)
    assert got.status_code == 200, got.get_data(as_text=True)
    xml = got.get_data()
    assert stored_file(key).source == "generated" and bytes(stored_file(key).complete) == xml
    assert client.get(f"/api/v1/unit/receipts/{key}/data-file", headers=unit.headers).get_data() == xml  # kept, not regenerated
    checked = client.post("/api/v1/verify/data-file", data=xml, content_type="application/xml")
    assert checked.status_code == 200, checked.get_data(as_text=True)
    body = checked.json
    assert body["valid"] is True and body["matches_stored"] is True and body["signatures"]["invoicing_party"]["form"] == "json"
    assert body["display_status"] == "报销中" and body["check_count"] == 1
    assert body["elements"]["payer"]["id_number"].startswith("460") and "*" in body["elements"]["payer"]["id_number"]


def test_verify_data_file_names_both_seals_and_any_tampering(client, hospital):
    xml, receipt = hospital.data_file()
    assert hospital.push_file(xml).status_code == 202
    zhang = citizen_login(client)
    complete = client.get(f"/api/v1/me/receipts/{receipt_key(receipt)}/data-file", headers=zhang).get_data()

    def check(data):
        resp = client.post("/api/v1/verify/data-file", data=data, content_type="application/xml")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.json

    good = check(complete)
    assert good["valid"] and good["matches_stored"] and good["signatures"]["invoicing_party"] == {
        "valid": True, "alg": "SM2", "form": "xml", "reason": None}
    assert good["signatures"]["supervisor"]["valid"] and good["display_status"] == "正常" and good["check_count"] == 1
    assert check(complete)["check_count"] == 2
    tampered = {
        "element": complete.replace(b"<TotalAmount>356.80</TotalAmount>", b"<TotalAmount>356.00</TotalAmount>"),
        "seal": re.sub(rb"<SealName>[^<]*</SealName>", b"<SealName>x</SealName>", complete, count=2),
        "issuer signature": re.sub(rb"(<InvoicingPartySignature>.*?<SignatureValue>)[A-Za-z0-9+/]{8}", rb"\1AAAAAAAA", complete, flags=re.S),
        "supervisor signature": re.sub(rb"(<SupervisorPartySignature>.*?<SignatureValue>)[A-Za-z0-9+/]{8}", rb"\1AAAAAAAA", complete,
                                       flags=re.S),
    }
    for what, data in tampered.items():
        assert data != complete, what
        answer = check(data)
        assert answer["valid"] is False and answer["reason"], (what, answer)
        assert answer["display_status"] is None and answer["check_count"] is None and answer["mismatches"] == [], what
    # The issuer's own file (no finance seal yet) is not the complete one.
    assert check(xml)["signatures"]["supervisor"]["reason"] == "missing"
    broken = client.post("/api/v1/verify/data-file", data=b"<EInvoice><oops>", content_type="application/xml")
    assert broken.status_code == 422 and broken.json["code"].startswith("data_file_")


def test_the_layout_file_is_a_rendering_of_the_data_file(client, hospital):
    """DESIGN §11: the layout file renders the data file's elements — here a complete file
    whose item name differs from the receipt row's, to tell the two sources apart."""
    import io

    from pypdf import PdfReader

    from backend.receipts.data_files import supervise

    receipt = hospital.receipt()
    receipt["items"][0]["name"] = "数据文件所载西药费"
    xml = datafile.sign_invoicing_party(datafile.from_receipt(receipt, header_id="HIS-L-1"), "SM2", hospital.private_key)
    assert hospital.push_file(xml).status_code == 202
    key = receipt_key(receipt)
    row = stored_file(key)
    renamed = receipt | {"items": [dict(receipt["items"][0], name="仅在数据文件中的名称")] + receipt["items"][1:]}
    row.complete = supervise(datafile.from_receipt(renamed, header_id="HIS-L-1"))
    db.session.commit()
    zhang = citizen_login(client)
    pdf = client.get(f"/api/v1/me/receipts/{key}/layout.pdf", headers=zhang).get_data()
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "仅在数据文件中的名称" in text and "数据文件所载西药费" not in text


@pytest.mark.skipif(not shutil.which("openssl"), reason="needs the openssl command (OpenSSL 3, with SM2)")
def test_a_file_sealed_by_openssl_is_pushed_and_the_node_seal_checks_out_with_openssl(client, operator, tmp_path):
    """Another SM2 implementation at both ends: a hospital sealing with the OpenSSL 3
    command line pushes through the webhook; the node's finance seal on the complete file is
    checked by OpenSSL when the node seals with SM2."""
    def openssl(*args, stdin=None):
        return subprocess.run(["openssl", *args], input=stdin, capture_output=True, timeout=30)

    sm3_sm2 = ("-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678")
    if openssl("genpkey", "-algorithm", "SM2", "-out", str(tmp_path / "issuer.pem")).returncode != 0:
        pytest.skip("this openssl has no SM2")
    assert openssl("pkey", "-in", str(tmp_path / "issuer.pem"), "-pubout", "-out", str(tmp_path / "issuer.pub")).returncode == 0
    created = register(operator, (tmp_path / "issuer.pub").read_text(), name="三亚中心医院", credit_code="12460200428201234X")
    assert created.status_code == 201, created.json
    hospital = DataFileHospital(client, created.json["id"], created.json["webhook_secret"], None, "三亚中心医院", "12460200428201234X")
    receipt = hospital.receipt()
    unsigned = datafile.from_receipt(receipt, header_id="HIS-OPENSSL-1")
    (tmp_path / "data.c14n").write_bytes(datafile.signed_bytes(unsigned, datafile.INVOICING_PARTY))
    signed = openssl("pkeyutl", "-sign", *sm3_sm2, "-inkey", str(tmp_path / "issuer.pem"), "-in", str(tmp_path / "data.c14n"))
    assert signed.returncode == 0, signed.stderr
    xml = datafile.add_signature(unsigned, datafile.INVOICING_PARTY, alg="SM2", value=base64.b64encode(signed.stdout).decode(),
                                 serial="openssl")
    app = client.application
    saved = app.config.get("PLATFORM_SIGNATURE_ALG"), app.extensions.pop("piaojia_platform_signer", None)
    app.config["PLATFORM_SIGNATURE_ALG"] = "SM2"  # the production default: the node seals with SM2 too
    try:
        assert hospital.push_file(xml).status_code == 202
        complete = bytes(stored_file(receipt_key(receipt)).complete)
        node_pub = signing.platform_signer().public_key.to_pem()
    finally:
        app.config["PLATFORM_SIGNATURE_ALG"] = saved[0]
        app.extensions.pop("piaojia_platform_signer", None)
        if saved[1] is not None:
            app.extensions["piaojia_platform_signer"] = saved[1]
    (tmp_path / "node.pub").write_text(node_pub)
    (tmp_path / "stored.c14n").write_bytes(datafile.signed_bytes(complete, datafile.SUPERVISOR))
    value = datafile.parse(complete).signatures[datafile.SUPERVISOR].value
    (tmp_path / "sig.der").write_bytes(base64.b64decode("".join(value.split())))
    checked = openssl("pkeyutl", "-verify", *sm3_sm2, "-pubin", "-inkey", str(tmp_path / "node.pub"), "-in", str(tmp_path / "stored.c14n"),
                      "-sigfile", str(tmp_path / "sig.der"))
    assert checked.returncode == 0 and b"Success" in checked.stdout, checked.stdout + checked.stderr
