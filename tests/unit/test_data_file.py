"""The national data file (DESIGN §11), as a library: parsing hostile files, the mapping to
the receipt of §2 both ways, and the signatures of issuer and node — checked against a
second implementation (the OpenSSL 3 command line) and Python's own ElementTree c14n.
"""
import base64
import copy
import random
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import date, datetime, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from lxml import etree

from backend.common.errors import DomainError
from backend.datafile import (
    INVOICING_PARTY,
    SUPERVISOR,
    DataFileInvalid,
    ReceiptNotExpressible,
    add_signature,
    element_path,
    fill_supervisor_seal_and_sign,
    from_receipt,
    normalize_receipt,
    parse,
    sign_invoicing_party,
    signed_bytes,
    to_receipt,
    verify,
)
from backend.receipts import sm2
from backend.receipts.rules import ReceiptContext, check_receipt
from backend.receipts.schemas import ReceiptWireSchema
from tests.support import SAMPLE_RECEIPT

MAIN = "/EInvoice/EInvoiceData/Main"
SEAL = {"id": "4600000001", "name": "海南省财政厅票据监制章", "hash": "q83vEjRWeJA="}
SIGNED_AT = datetime(2025, 11, 20, 2, 15, 1, tzinfo=timezone.utc)

INPATIENT = {
    **copy.deepcopy(SAMPLE_RECEIPT),
    "number": "0000012346", "title": "海南省医疗住院收费票据（电子）", "kind": "inpatient",
    "issue_date": "2025-11-21", "issued_at": "2025-11-21T01:30:00+08:00",
    "payer": {"name": "John Smith", "id_type": "passport", "id_number": "E12345678"},
    "visit": {"visit_type": "inpatient", "admission_date": "2025-11-11", "discharge_date": "2025-11-20",
              "hospitalization_days": 9, "inpatient_no": "ZY2025110001", "department": "外科", "gender": "男", "age": 45,
              "insurance_type": "城乡居民基本医疗保险", "institution_type": "三级甲等综合医院"},
    "detail_items": [
        {"code": "X1", "name": "阿莫西林胶囊", "quantity": "2", "unit": "盒", "rate": "78.40", "amount": "156.80", "remark": "",
         "category": "西药费", "specification": "0.25g×24粒"},
        {"code": "", "name": "血常规", "quantity": "1", "unit": "次", "rate": "80.00", "amount": "80.00", "remark": "复查",
         "category": "化验费", "specification": ""},
    ],
    "remark": "出院带药\r\n两盒 & <注意>",
}

# The §11 example of DESIGN.md, comments and all, without its placeholder signature block.
DESIGN_EXAMPLE = """<EInvoice>
  <Header><EInvoiceID>issuer's unique id</EInvoiceID><EInvoiceTag>CZ-EI-46</EInvoiceTag><Version>1.0</Version></Header>
  <EInvoiceData>
    <Main>
      <EInvoiceName>海南省医疗门诊收费票据（电子）</EInvoiceName>
      <EInvoiceCode>46060125</EInvoiceCode><EInvoiceNumber>0000012345</EInvoiceNumber>
      <RandomNumber>7Kq9Zx</RandomNumber>                      <!-- 校验码 -->
      <EInvoiceSpecimenCode>46060125</EInvoiceSpecimenCode>     <!-- 票据模板代码 -->
      <SupervisorAreaCode>460000</SupervisorAreaCode>
      <TotalAmount>356.80</TotalAmount>
      <IssueDate>20251120</IssueDate><IssueTime>10:15:00</IssueTime>   <!-- Beijing time -->
      <InvoicingParty><InvoicingPartyCode>12460200428201234X</InvoicingPartyCode><InvoicingPartyName>三亚中心医院</InvoicingPartyName></InvoicingParty>
      <PayerParty><PayerPartyType>1</PayerPartyType>            <!-- 1 person, 2 organisation -->
        <PayerPartyCode>460200199001011234</PayerPartyCode><PayerPartyName>张三</PayerPartyName></PayerParty>
      <PayMode/><BizCode>MZ202511200001</BizCode><CurrencyType>CNY</CurrencyType><ExchangeRate>1</ExchangeRate>
      <Remark/><HandlingPerson>王芳</HandlingPerson><Checker>李强</Checker><SupervisorRemark/>
      <MainExt>                                                  <!-- medical elements; optional as in §2 -->
        <MedicalType>门诊</MedicalType><VisitDate>20251120</VisitDate><DepartmentName>内科</DepartmentName>
        <MedicalRecordNo/><InHospitalDate/><OutHospitalDate/><HospitalNo/>
        <MedicalInsuranceType>职工基本医疗保险</MedicalInsuranceType><MedicalInsuranceID/><MedicalInstitutionType/>
        <FundPayAmount>200.00</FundPayAmount><AccountPayAmount>50.00</AccountPayAmount><CashPayAmount>106.80</CashPayAmount>
        <OtherPayAmount>0.00</OtherPayAmount><OwnPayAmount>136.80</OwnPayAmount><SelfPayAmount>20.00</SelfPayAmount>
      </MainExt>
      <InvoicingPartySeal><SealId/><SealName/><SealHash/></InvoicingPartySeal>
      <SupervisorPartySeal><SealId/><SealName/><SealHash/></SupervisorPartySeal>   <!-- filled by the node -->
    </Main>
    <Details>
      <Item><ItemCode>C0104</ItemCode><ItemName>西药费</ItemName><ItemQuantity>1</ItemQuantity>
        <ItemUnit>项</ItemUnit><ItemStd>156.80</ItemStd><ItemAmount>156.80</ItemAmount><ItemRemark/></Item>
      <Item><ItemCode>C0107</ItemCode><ItemName>检查费</ItemName><ItemQuantity>1</ItemQuantity>
        <ItemUnit>次</ItemUnit><ItemStd>120.00</ItemStd><ItemAmount>120.00</ItemAmount><ItemRemark/></Item>
      <Item><ItemCode>C0108</ItemCode><ItemName>化验费</ItemName><ItemQuantity>2</ItemQuantity>
        <ItemUnit>次</ItemUnit><ItemStd>40.00</ItemStd><ItemAmount>80.00</ItemAmount><ItemRemark/></Item>
    </Details>
  </EInvoiceData>
</EInvoice>
""".encode()


def sample_file(receipt=SAMPLE_RECEIPT) -> bytes:
    return from_receipt(receipt, header_id="SYZX-2025-000123")


@pytest.fixture(scope="module")
def sm2_key():
    return sm2.generate_private_key()


@pytest.fixture(scope="module")
def node_key():
    return sm2.generate_private_key()


@pytest.fixture(scope="module")
def signed(sm2_key):
    return sign_invoicing_party(sample_file(), "SM2", sm2_key.to_pem(), "SYZX-SM2-01", SIGNED_AT)


@pytest.fixture(scope="module")
def sealed(signed, node_key):
    return fill_supervisor_seal_and_sign(signed, "SM2", node_key, SEAL, "node-46", SIGNED_AT)


def refused(data: bytes, **kwargs) -> DataFileInvalid:
    with pytest.raises(DataFileInvalid) as info:
        parse(data, **kwargs)
    return info.value


def edit(xml: bytes, path: str, text) -> bytes:
    """The file with the element at `path` (relative to EInvoice) given another text."""
    root = etree.fromstring(xml)
    root.find(path).text = text
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


# ---------------------------------------------------------------------------- mapping

def test_sample_receipt_survives_a_round_trip_through_its_data_file():
    data_file = parse(sample_file())
    assert to_receipt(data_file) == SAMPLE_RECEIPT
    assert data_file.key == "46060125-0000012345" and data_file.raw == sample_file()
    assert data_file.elements["Header"] == {"EInvoiceID": "SYZX-2025-000123", "EInvoiceTag": "CZ-EI-46", "Version": "1.0"}
    assert all(seal.empty for seal in data_file.seals.values()) and data_file.signatures == {}
    with_signature = {**SAMPLE_RECEIPT, "signature": {"alg": "ES256", "value": "x" * 86}}
    assert sample_file(with_signature) == sample_file()  # the JSON signature is no element of the file


def test_an_inpatient_receipt_with_extensions_survives_a_round_trip():
    back = to_receipt(parse(sample_file(INPATIENT)))
    assert back == INPATIENT
    assert back["payer"]["id_type"] == "passport" and back["visit"]["age"] == 45
    assert back["remark"] == "出院带药\r\n两盒 & <注意>"  # CR and markup characters kept


def test_an_organization_payer_is_payer_party_type_2():
    receipt = {**SAMPLE_RECEIPT, "payer": {"name": "海南某某有限公司", "id_type": "organization", "id_number": "91460000MA5T000001"}}
    data_file = parse(sample_file(receipt))
    assert data_file.main["PayerParty"] == {"PayerPartyType": "2", "PayerPartyCode": "91460000MA5T000001", "PayerPartyName": "海南某某有限公司"}
    assert to_receipt(data_file)["payer"]["id_type"] == "organization"
    wrong = edit(sample_file(receipt), "EInvoiceData/Main/PayerParty/PayerPartyName", "x")
    root = etree.fromstring(wrong)
    etree.SubElement(root.find("EInvoiceData/Main/PayerParty"), "PayerPartyIdType").text = "passport"
    with pytest.raises(DataFileInvalid) as info:
        to_receipt(parse(etree.tostring(root)))
    assert info.value.code == "data_file_invalid_value" and info.value.path == f"{MAIN}/PayerParty/PayerPartyIdType"


def test_the_mapped_receipt_passes_the_wire_schema_and_every_rule_of_section_2():
    for receipt in (SAMPLE_RECEIPT, INPATIENT):
        mapped = to_receipt(parse(sample_file(receipt)))
        loaded = ReceiptWireSchema().load({**mapped, "signature": {"alg": "SM2", "value": "A" * 86}})
        ctx = ReceiptContext(node_province="46", issuer_credit_code="12460200428201234X", today=date(2025, 11, 22))
        assert check_receipt(loaded, ctx) == []


def test_the_design_example_maps_to_the_sample_receipt():
    data_file = parse(DESIGN_EXAMPLE)
    expected = copy.deepcopy(SAMPLE_RECEIPT)
    for empty_in_the_example in ("medical_record_no", "insurance_no", "institution_type"):
        del expected["visit"][empty_in_the_example]
    assert to_receipt(data_file) == expected
    assert data_file.main["BizCode"] == "MZ202511200001"


def test_normalize_gives_what_the_file_gives_back():
    receipt = copy.deepcopy(SAMPLE_RECEIPT)
    receipt["issued_at"] = "2025-11-20T02:15:00.250000Z"
    receipt["clerk"] = ""
    receipt["items"][0] = {k: v for k, v in receipt["items"][0].items() if k not in ("remark", "code")}
    normal = normalize_receipt(receipt)
    assert normal["issued_at"] == "2025-11-20T10:15:00+08:00"
    assert "clerk" not in normal
    assert normal["items"][0]["remark"] == "" and normal["items"][0]["code"] == ""
    assert to_receipt(parse(sample_file(receipt))) == normal


@pytest.mark.parametrize("change, field", [
    ({"issued_at": "2025-11-20T20:00:00+00:00"}, "issued_at"),  # 04:00 on the 21st in Beijing
    ({"issued_at": "2025-11-20T10:15:00"}, "issued_at"),
    ({"kind": "inpatient"}, "kind"),
    ({"unknown": "x"}, "unknown"),
    ({"clerk": "王\x01芳"}, "clerk"),
    ({"total_amount": "1e3"}, "total_amount"),
])
def test_a_receipt_the_file_cannot_carry_unchanged_is_refused(change, field):
    with pytest.raises(ReceiptNotExpressible) as info:
        sample_file({**SAMPLE_RECEIPT, **change})
    assert info.value.field == field and info.value.status == 422
    assert info.value.code == "receipt_not_expressible_as_data_file"


def test_element_paths_of_receipt_fields():
    assert element_path("items[0].amount") == "/EInvoice/EInvoiceData/Details/Item[1]/ItemAmount"
    assert element_path("detail_items[1].specification") == "/EInvoice/EInvoiceData/AuxDetails/AuxItem[2]/ItemSpec"
    assert element_path("payments") == f"{MAIN}/MainExt"
    assert element_path("payments.self_pay") == f"{MAIN}/MainExt/OwnPayAmount"
    assert element_path("visit.discharge_date") == f"{MAIN}/MainExt/OutHospitalDate"
    assert element_path("check_code") == f"{MAIN}/RandomNumber"
    assert element_path("nothing") is None


# ---------------------------------------------------------------------------- signatures

def test_issuer_sm2_and_es256_signatures_verify_and_wrong_keys_do_not(sm2_key, signed):
    pem = sm2_key.public_key.to_pem()
    assert verify(signed, INVOICING_PARTY, pem) == verify(signed, INVOICING_PARTY, pem, alg="SM2")
    assert verify(signed, INVOICING_PARTY, pem).valid
    assert verify(signed, INVOICING_PARTY, sm2.generate_private_key().public_key.to_pem()).reason == "mismatch"
    assert verify(signed, SUPERVISOR, pem).reason == "missing"
    es_key = ec.generate_private_key(ec.SECP256R1())
    es_pem = es_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    es_signed = sign_invoicing_party(sample_file(), "ES256", es_key, "SYZX-P256")
    assert verify(es_signed, INVOICING_PARTY, es_pem) and verify(es_signed, INVOICING_PARTY, es_key.public_key())
    # an ES256 key never verifies an SM2 signature, nor the reverse
    assert verify(signed, INVOICING_PARTY, es_pem).reason == "algorithm_mismatch"
    assert verify(es_signed, INVOICING_PARTY, pem).reason == "algorithm_mismatch"
    assert verify(signed, INVOICING_PARTY, "not a key", alg="SM2").reason == "unusable_key"
    sig = parse(signed).signatures[INVOICING_PARTY]
    assert (sig.alg, sig.serial, sig.signed_at) == ("SM2", "SYZX-SM2-01", "2025-11-20T10:15:01+08:00")
    r, s = decode_dss_signature(base64.b64decode(sig.value))  # base64 (not url) of a DER SEQUENCE {r, s}
    assert sm2.verify(sm2_key.public_key, signed_bytes(signed, INVOICING_PARTY), r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def test_the_node_fills_the_seal_and_both_signatures_verify(sm2_key, node_key, signed, sealed):
    data_file = parse(sealed)
    assert data_file.seals[SUPERVISOR].id == SEAL["id"] and data_file.seals[INVOICING_PARTY].empty
    assert list(data_file.signatures) == [INVOICING_PARTY, SUPERVISOR]
    assert verify(sealed, SUPERVISOR, node_key.public_key.to_pem()).valid
    # the issuer's signature still verifies: its seal children are emptied again to check it
    assert verify(sealed, INVOICING_PARTY, sm2_key.public_key.to_pem()).valid
    assert signed_bytes(sealed, INVOICING_PARTY) == signed_bytes(signed, INVOICING_PARTY)
    assert signed_bytes(sealed, SUPERVISOR) != signed_bytes(sealed, INVOICING_PARTY)
    assert to_receipt(data_file) == SAMPLE_RECEIPT
    es_node = ec.generate_private_key(ec.SECP256R1())
    es_sealed = fill_supervisor_seal_and_sign(signed, "ES256", es_node, SEAL, "node-46")
    assert verify(es_sealed, SUPERVISOR, es_node.public_key()).valid
    assert verify(es_sealed, INVOICING_PARTY, sm2_key.public_key).valid


def _tampered(name: str, text: str) -> str:
    """Another value of the element's form, so that the file still parses."""
    if re.fullmatch(r"[0-9]+\.[0-9]{2}", text):
        return f"{float(text) + 0.01:.2f}"
    if name.endswith("Date"):
        return "20251119" if text != "20251119" else "20251118"
    special = {"IssueTime": "10:15:01", "MedicalType": "急诊", "PayerPartyType": "2", "CurrencyType": "",
               "ExchangeRate": "1.0", "HospitalDays": "8", "Age": "46"}
    if name in special:
        return special[name]
    if text == "":
        return "X"
    if text[-1].isdigit():
        return text[:-1] + str((int(text[-1]) + 1) % 10)
    return text[:-1] + ("Y" if text[-1] != "Y" else "Z")


def _leaves(xml: bytes):
    root = etree.fromstring(xml)
    data = root.find("EInvoiceData")
    for element in data.iter():
        if len(element) == 0:
            yield root.getroottree().getelementpath(element), element.tag, element.text or ""


def test_tampering_with_any_element_breaks_the_signatures(sm2_key, node_key, sealed):
    issuer_pem, node_pem = sm2_key.public_key.to_pem(), node_key.public_key.to_pem()
    checked = 0
    for path, name, text in _leaves(sealed):
        tampered = edit(sealed, path, _tampered(name, text))
        data_file = parse(tampered)  # still a data file: only the signatures tell
        assert not verify(data_file, SUPERVISOR, node_pem), path
        seal_child = "SupervisorPartySeal" in path
        assert verify(data_file, INVOICING_PARTY, issuer_pem).valid is seal_child, path
        checked += 1
    assert checked > 60
    # structure and whitespace are signed too: an element dropped, items reordered, indentation changed
    root = etree.fromstring(sealed)
    main = root.find("EInvoiceData/Main")
    main.remove(main.find("PayMode"))
    variants = [etree.tostring(root)]
    root = etree.fromstring(sealed)
    details = root.find("EInvoiceData/Details")
    details.append(details[0])
    variants.append(etree.tostring(root))
    variants.append(sealed.replace(b"<Main>\n", b"<Main>\n  ", 1))
    for variant in variants:
        assert not verify(variant, SUPERVISOR, node_pem) and not verify(variant, INVOICING_PARTY, issuer_pem)


def test_tampering_with_the_seal_breaks_only_the_node_signature(sm2_key, node_key, sealed):
    for child in ("SealId", "SealName", "SealHash"):
        tampered = edit(sealed, f"EInvoiceData/Main/SupervisorPartySeal/{child}", "forged")
        assert verify(tampered, SUPERVISOR, node_key.public_key).reason == "mismatch"
        assert verify(tampered, INVOICING_PARTY, sm2_key.public_key).valid
    tampered = edit(sealed, "EInvoiceData/Main/InvoicingPartySeal/SealId", "forged")
    assert not verify(tampered, SUPERVISOR, node_key.public_key) and not verify(tampered, INVOICING_PARTY, sm2_key.public_key)


@pytest.mark.parametrize("party", [INVOICING_PARTY, SUPERVISOR])
def test_tampered_signatures_are_invalid_never_an_error(sm2_key, node_key, sealed, party):
    key = (sm2_key if party == INVOICING_PARTY else node_key).public_key.to_pem()
    element = "EInvoiceSignature/" + ("InvoicingPartySignature" if party == INVOICING_PARTY else "SupervisorPartySignature")
    value = parse(sealed).signatures[party].value
    r, s = decode_dss_signature(base64.b64decode(value))
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    other = parse(sealed).signatures[SUPERVISOR if party == INVOICING_PARTY else INVOICING_PARTY].value
    cases = {
        "mismatch": [
            base64.b64encode(encode_dss_signature(r, s ^ 1)).decode(),  # one bit of s
            other,  # the other party's signature
        ],
        "malformed_value": [
            "", "!!!not base64!!!", value[:-4], value + "AAAA",
            base64.b64encode(raw).decode(),  # raw r‖s, as the JSON wire has it
            base64.urlsafe_b64encode(base64.b64decode(value)).decode().rstrip("="),  # base64url
            base64.b64encode(base64.b64decode(value) + b"\x00").decode(),  # trailing garbage after the DER
            base64.b64encode(b"\x30\x06\x02\x01\x00\x02\x01\x01").decode(),  # r = 0
        ],
    }
    for reason, values in cases.items():
        for bad in values:
            result = verify(edit(sealed, f"{element}/SignatureValue", bad or None), party, key)
            assert (result.valid, result.reason) == (False, reason), bad
    for alg, reason in (("", "unsupported_algorithm"), ("RSA", "unsupported_algorithm"), ("ES256", "algorithm_mismatch")):
        assert verify(edit(sealed, f"{element}/SignatureAlgorithm", alg or None), party, key).reason == reason
    n_plus = base64.b64encode(encode_dss_signature(r + sm2.N, s)).decode()  # r beyond the group order
    assert not verify(edit(sealed, f"{element}/SignatureValue", n_plus), party, key)
    wrapped = "\n".join(value[i:i + 20] for i in range(0, len(value), 20))  # base64 wrapped in lines still reads
    assert verify(edit(sealed, f"{element}/SignatureValue", wrapped), party, key).valid


def test_signing_again_replaces_and_add_signature_attaches(sm2_key, signed):
    again = sign_invoicing_party(signed, "SM2", sm2_key, "SYZX-SM2-02")
    assert parse(again).signatures[INVOICING_PARTY].serial == "SYZX-SM2-02"
    assert len(etree.fromstring(again).find("EInvoiceSignature")) == 1
    value = parse(signed).signatures[INVOICING_PARTY].value
    attached = add_signature(sample_file(), INVOICING_PARTY, alg="SM2", value=value, serial="SYZX-SM2-01")
    assert verify(attached, INVOICING_PARTY, sm2_key.public_key).valid
    compact = etree.tostring(etree.fromstring(sample_file(), etree.XMLParser(remove_blank_text=True)))
    compact = compact.replace(b"<EInvoiceSignature/>", b"")  # an issuer file without the block at all
    assert verify(sign_invoicing_party(compact, "SM2", sm2_key), INVOICING_PARTY, sm2_key.public_key).valid
    with pytest.raises(ValueError):
        verify(signed, "someone", sm2_key.public_key)


# ---------------------------------------------------------------------------- a second implementation

def independent_c14n(xml: bytes, party: str) -> bytes:
    """What each party signs, computed from DESIGN §11 with the standard library alone: the
    canonical form of the whole document, its EInvoiceData part, the seal emptied by text
    editing for the issuer. (Not ET.tostring of the element: it writes a CR in text as a raw
    CR, which the canonicalizer's parser then reads as LF.)"""
    c14n = ET.canonicalize(xml_data=xml, with_comments=False, strip_text=False)
    data = c14n[c14n.index("<EInvoiceData>"):c14n.index("</EInvoiceData>") + len("</EInvoiceData>")]
    if party == INVOICING_PARTY:
        start, end = data.index("<SupervisorPartySeal>"), data.index("</SupervisorPartySeal>")
        seal = re.sub(r"<(SealId|SealName|SealHash)>[^<]*</\1>", r"<\1></\1>", data[start:end])
        data = data[:start] + seal + data[end:]
    return data.encode()


def _openssl_sm2():
    exe = shutil.which("openssl")
    if not exe:
        return None
    out = subprocess.run([exe, "list", "-public-key-algorithms"], capture_output=True, text=True)
    return exe if out.returncode == 0 and "SM2" in out.stdout else None


def test_canonical_bytes_agree_with_the_standard_library(sealed):
    for xml in (sealed, DESIGN_EXAMPLE, sample_file(INPATIENT)):
        for party in (INVOICING_PARTY, SUPERVISOR):
            assert signed_bytes(xml, party) == independent_c14n(xml, party)


@pytest.mark.skipif(_openssl_sm2() is None, reason="needs the openssl command with SM2 (OpenSSL 3)")
def test_openssl_signs_a_data_file_we_verify_and_verifies_the_node_signature_we_add(tmp_path, node_key):
    exe = _openssl_sm2()

    def openssl(*args):
        return subprocess.run([exe, *args], capture_output=True)

    def path(name):
        return str(tmp_path / name)

    assert openssl("genpkey", "-algorithm", "SM2", "-out", path("issuer.pem")).returncode == 0
    assert openssl("pkey", "-in", path("issuer.pem"), "-pubout", "-out", path("issuer.pub")).returncode == 0
    sm3_sm2 = ("-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678")

    # The hospital: the DESIGN example signed by OpenSSL over the standard library's c14n,
    # its signature block written by hand.
    (tmp_path / "data.c14n").write_bytes(independent_c14n(DESIGN_EXAMPLE, INVOICING_PARTY))
    done = openssl("pkeyutl", "-sign", *sm3_sm2, "-inkey", path("issuer.pem"), "-in", path("data.c14n"), "-out", path("sig.der"))
    assert done.returncode == 0, done.stderr
    value = base64.b64encode((tmp_path / "sig.der").read_bytes()).decode()
    block = (f"<EInvoiceSignature><InvoicingPartySignature><SignatureAlgorithm>SM2</SignatureAlgorithm>"
             f"<SignatureTime>2025-11-20T10:15:01+08:00</SignatureTime><SerialNumber>openssl</SerialNumber>"
             f"<SignatureValue>{value}</SignatureValue></InvoicingPartySignature></EInvoiceSignature>\n</EInvoice>")
    hospital_file = DESIGN_EXAMPLE.replace(b"</EInvoice>", block.encode())
    issuer_pub = (tmp_path / "issuer.pub").read_text()
    assert verify(hospital_file, INVOICING_PARTY, issuer_pub).valid
    assert not verify(hospital_file.replace(b"356.80", b"356.81", 1), INVOICING_PARTY, issuer_pub)

    # The node: seal filled and signed by us, checked by OpenSSL over the standard library's c14n.
    sealed = fill_supervisor_seal_and_sign(hospital_file, "SM2", node_key.to_pem(), SEAL, "node-46")
    assert verify(sealed, INVOICING_PARTY, issuer_pub).valid
    (tmp_path / "node.pub").write_text(node_key.public_key.to_pem())
    (tmp_path / "stored.c14n").write_bytes(independent_c14n(sealed, SUPERVISOR))
    (tmp_path / "node.der").write_bytes(base64.b64decode(parse(sealed).signatures[SUPERVISOR].value))
    checked = openssl("pkeyutl", "-verify", *sm3_sm2, "-pubin", "-inkey", path("node.pub"), "-in", path("stored.c14n"),
                      "-sigfile", path("node.der"))
    assert checked.returncode == 0, checked.stderr
    (tmp_path / "stored.c14n").write_bytes(independent_c14n(sealed.replace(SEAL["hash"].encode(), b"forged"), SUPERVISOR))
    assert openssl("pkeyutl", "-verify", *sm3_sm2, "-pubin", "-inkey", path("node.pub"), "-in", path("stored.c14n"),
                   "-sigfile", path("node.der")).returncode != 0

    # And an issuer signature of ours, with an OpenSSL-made key, checked by OpenSSL.
    ours = sign_invoicing_party(DESIGN_EXAMPLE, "SM2", (tmp_path / "issuer.pem").read_text(), "ours")
    (tmp_path / "ours.c14n").write_bytes(independent_c14n(ours, INVOICING_PARTY))
    (tmp_path / "ours.der").write_bytes(base64.b64decode(parse(ours).signatures[INVOICING_PARTY].value))
    checked = openssl("pkeyutl", "-verify", *sm3_sm2, "-pubin", "-inkey", path("issuer.pub"), "-in", path("ours.c14n"),
                      "-sigfile", path("ours.der"))
    assert checked.returncode == 0, checked.stderr


# ---------------------------------------------------------------------------- hostile files

def test_every_refusal_is_a_domain_error_with_a_chinese_title():
    error = refused(b"not xml")
    assert isinstance(error, DomainError) and error.status == 422 and error.code == "data_file_malformed"
    assert re.search(r"[\u4e00-\u9fff]", error.title)


def test_entity_bombs_are_refused_unexpanded():
    laughs = (b'<?xml version="1.0"?><!DOCTYPE EInvoice [<!ENTITY lol0 "lol">'
              + b"".join(b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10) for i in range(1, 10))
              + b"]><EInvoice>&lol9;</EInvoice>")  # a billion "lol"s if expanded
    quadratic = (b'<?xml version="1.0"?><!DOCTYPE EInvoice [<!ENTITY a "' + b"a" * 50_000 + b'">]><EInvoice>'
                 + b"&a;" * 20_000 + b"</EInvoice>")  # 1 GB of text if expanded
    for data in (laughs, quadratic):
        assert refused(data).code == "data_file_dtd_forbidden"


@pytest.mark.parametrize("data", [
    b'<?xml version="1.0"?><!DOCTYPE EInvoice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><EInvoice>&xxe;</EInvoice>',
    b'<?xml version="1.0"?><!DOCTYPE EInvoice SYSTEM "http://127.0.0.1:9/einvoice.dtd"><EInvoice/>',
    b'<!DOCTYPE EInvoice><EInvoice/>',
    b'<EInvoice>&xxe;</EInvoice>',
    # in UTF-16 the byte scan for "<!DOCTYPE" cannot see it: the parsed document's DTD is refused
    '<!DOCTYPE EInvoice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><EInvoice>&xxe;</EInvoice>'.encode("utf-16"),
])
def test_external_entities_and_any_doctype_are_refused(data):
    assert refused(data).code == "data_file_dtd_forbidden"


def test_deep_nesting_is_refused():
    assert refused(b"<EInvoice>" * 10_000 + b"</EInvoice>" * 10_000).code == "data_file_too_deep"
    error = refused(b"<EInvoice>" + b"<Header>" * 40 + b"</Header>" * 40 + b"</EInvoice>")
    assert error.code == "data_file_too_deep" and error.path.startswith("/EInvoice/Header/Header")
    assert refused(sample_file(), max_depth=4).code == "data_file_too_deep"


def test_a_50_mb_file_is_refused_before_parsing():
    head = sample_file()
    huge = head[:-len(b"</EInvoice>\n")] + b"<!--" + b"x" * (50 * 1024 * 1024) + b"-->" + b"</EInvoice>\n"
    error = refused(huge)
    assert error.code == "data_file_too_large" and error.status == 413
    assert refused(b"<" * (1024 * 1024 + 1)).code == "data_file_too_large"  # garbage: never parsed
    assert refused(head, max_bytes=len(head) - 1).code == "data_file_too_large"
    assert parse(head, max_bytes=len(head)).key == "46060125-0000012345"


@pytest.mark.parametrize("data, path", [
    (b'<EInvoice xmlns="urn:example:einvoice"/>', "/EInvoice"),
    (sample_file().replace(b"<Main>", b'<Main xmlns:x="urn:x">', 1), MAIN),
    (sample_file().replace(b"<PayMode/>", b'<x:PayMode xmlns:x="urn:x"/>', 1), f"{MAIN}/PayMode"),
])
def test_namespaces_are_refused(data, path):
    error = refused(data)
    assert (error.code, error.path) == ("data_file_wrong_namespace", path)


@pytest.mark.parametrize("old, new, code, path", [
    (b"<TotalAmount>356.80</TotalAmount>", b"<TotalAmount>356.80</TotalAmount><TotalAmount>1.00</TotalAmount>",
     "data_file_duplicate_element", f"{MAIN}/TotalAmount"),
    (b"<Header>", b"<Header><EInvoiceID>x</EInvoiceID><EInvoiceTag>x</EInvoiceTag><Version>1</Version></Header><Header>",
     "data_file_duplicate_element", "/EInvoice/Header"),
    (b"<SealId/>", b"<SealId/><SealId/>", "data_file_duplicate_element", f"{MAIN}/InvoicingPartySeal/SealId"),
    (b"<PayMode/>", b"<PayMode/><Discount>1.00</Discount>", "data_file_unknown_element", f"{MAIN}/Discount"),
    (b"<PayMode/>", b"<PayMode><Cash/></PayMode>", "data_file_unknown_element", f"{MAIN}/PayMode/Cash"),
    (b"<TotalAmount>356.80</TotalAmount>", b"", "data_file_missing_element", f"{MAIN}/TotalAmount"),
    (b"<FundPayAmount>200.00</FundPayAmount>", b"", "data_file_missing_element", f"{MAIN}/MainExt/FundPayAmount"),
    (b"<PayMode/>", b"<PayMode/>stray text", "data_file_unexpected_content", MAIN),
    (b"<Main>", b'<Main id="x">', "data_file_unexpected_content", MAIN),
    (b"<PayMode/>", b"<?php echo 1; ?><PayMode/>", "data_file_unexpected_content", f"{MAIN}/?"),
    (b"<TotalAmount>356.80</TotalAmount>", b"<TotalAmount>1e3</TotalAmount>", "data_file_invalid_value", f"{MAIN}/TotalAmount"),
    (b"<TotalAmount>356.80</TotalAmount>", b"<TotalAmount>1,000.00</TotalAmount>", "data_file_invalid_value", f"{MAIN}/TotalAmount"),
    (b"<TotalAmount>356.80</TotalAmount>", b"<TotalAmount>100</TotalAmount>", "data_file_invalid_value", f"{MAIN}/TotalAmount"),
    (b"<TotalAmount>356.80</TotalAmount>", b"<TotalAmount> 356.80</TotalAmount>", "data_file_invalid_value", f"{MAIN}/TotalAmount"),
    (b"<TotalAmount>356.80</TotalAmount>", b"<TotalAmount>-356.80</TotalAmount>", "data_file_invalid_value", f"{MAIN}/TotalAmount"),
    (b"<TotalAmount>356.80</TotalAmount>", b"<TotalAmount></TotalAmount>", "data_file_invalid_value", f"{MAIN}/TotalAmount"),
    (b"<ItemAmount>80.00</ItemAmount>", b"<ItemAmount>8E1</ItemAmount>", "data_file_invalid_value",
     "/EInvoice/EInvoiceData/Details/Item[3]/ItemAmount"),
    (b"<IssueDate>20251120</IssueDate>", b"<IssueDate>2025-11-20</IssueDate>", "data_file_invalid_value", f"{MAIN}/IssueDate"),
    (b"<IssueDate>20251120</IssueDate>", b"<IssueDate>20251131</IssueDate>", "data_file_invalid_value", f"{MAIN}/IssueDate"),
    (b"<VisitDate>20251120</VisitDate>", b"<VisitDate>2025/11/20</VisitDate>", "data_file_invalid_value", f"{MAIN}/MainExt/VisitDate"),
    (b"<IssueTime>10:15:00</IssueTime>", b"<IssueTime>10:15</IssueTime>", "data_file_invalid_value", f"{MAIN}/IssueTime"),
    (b"<IssueTime>10:15:00</IssueTime>", b"<IssueTime>10:15:00+08:00</IssueTime>", "data_file_invalid_value", f"{MAIN}/IssueTime"),
    (b"<CurrencyType>CNY</CurrencyType>", b"<CurrencyType>USD</CurrencyType>", "data_file_invalid_value", f"{MAIN}/CurrencyType"),
    (b"<MedicalType>\xe9\x97\xa8\xe8\xaf\x8a</MedicalType>", b"<MedicalType>outpatient</MedicalType>", "data_file_invalid_value",
     f"{MAIN}/MainExt/MedicalType"),
])
def test_wrong_elements_and_values_are_refused_with_their_path(old, new, code, path):
    data = sample_file()
    assert old in data
    error = refused(data.replace(old, new, 1))
    assert (error.code, error.path, error.extra) == (code, path, {"path": path})
    assert error.detail.startswith(path)


def test_too_many_items_and_other_malformed_files():
    data = sample_file()
    item = re.search(rb"<Item>.*?</Item>", data, re.S).group(0)
    many = data.replace(item, item * 201, 1)
    assert (refused(many).code, refused(many).path) == ("data_file_too_many_elements", "/EInvoice/EInvoiceData/Details/Item[201]")
    assert refused(data.replace(b"EInvoice>", b"Invoice>")).code == "data_file_unknown_element"
    gbk = data.replace(b"encoding='UTF-8'", b"encoding='GBK'").decode().encode("gbk")
    assert refused(gbk).code == "data_file_malformed"
    for garbage in (b"", b"\xff\xfe<\x00", b"<EInvoice>", data[:-5], b"\x00" + data, data.replace(b"<PayMode/>", b"<PayMode>&</PayMode>")):
        assert refused(garbage).code == "data_file_malformed"
    with pytest.raises(TypeError):
        parse(data.decode())


def test_random_corruption_gives_a_data_file_error_or_a_file_never_another_exception(sm2_key, sealed):
    rng = random.Random(18)
    pem = sm2_key.public_key.to_pem()
    outcomes = set()
    for _ in range(400):
        data = bytearray(sealed)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.4:
                data[at] = rng.randrange(256)
            elif choice < 0.7:
                del data[at:at + rng.randint(1, 40)]
            else:
                data[at:at] = rng.choice([b"<", b">", b"&", b"<x>", b"</Main>", b"<!--", b"]]>", b"\x00", b"&amp;", "票".encode()])
        try:
            data_file = parse(bytes(data))
            to_receipt(data_file)
            outcomes.add(verify(data_file, INVOICING_PARTY, pem).reason)
        except DataFileInvalid as exc:
            outcomes.add(exc.code)
    assert "data_file_malformed" in outcomes and len(outcomes) > 3
