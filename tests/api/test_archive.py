"""The electronic archive (电子会计凭证归档, DESIGN §10): a unit downloads, as one zip, the
receipts it reimbursed in a period; `flask archive-check` proves the zip whole."""
import hashlib
import io
import json
import re
import struct
import zipfile
from datetime import datetime, timedelta, timezone
from xml.etree import ElementTree as ET

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from backend import datafile
from backend.layout import NodeSigner, verify_layout
from tests.support import ZHANG_SAN_ID, UnitClient, citizen_login, receipt_key

RECEIPT_FILES = {"receipt.json", "layout.pdf", "data.xml", "signatures.json", "timeline.json", "ledger.json"}
TOP = {"metadata.xml", "manifest.json", "manifest.sha256"}
CHINA_TZ = timezone(timedelta(hours=8))


def _today():
    return datetime.now(CHINA_TZ).date()


def _archive(unit, date_from, date_to):
    return unit.get("/archive", **{"from": str(date_from), "to": str(date_to)})


def _around_today(unit):
    return _archive(unit, _today() - timedelta(days=1), _today() + timedelta(days=1))


def _reimburse(unit, sent, amount, **extra):
    lock = unit.lock_with_proof(sent)
    assert lock.status_code == 201, lock.json
    done = unit.feedback(receipt_key(sent), lock.json["lock_token"], amount=amount, **extra)
    assert done.status_code == 201, done.json
    return done.json


def _reject(unit, sent):
    lock = unit.lock_with_proof(sent)
    done = unit.feedback(receipt_key(sent), lock.json["lock_token"], outcome="rejected", reason="不属于报销范围")
    assert done.status_code == 201, done.json


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _vouchers(zf) -> dict:
    root = ET.fromstring(zf.read("metadata.xml"))
    return {f"{v.findtext('票据代码')}-{v.findtext('票据号码')}": v for v in root.iter("电子会计凭证")}


def _check(app, path):
    result = app.test_cli_runner().invoke(args=["archive-check", str(path)])
    return result.exit_code, json.loads(result.output)


def _rewrite(data: bytes, changes: dict, fix_manifests=False) -> bytes:
    """The zip with some files replaced (CRC-32s recomputed, as a careful forger would); with
    fix_manifests, the digests in metadata.xml, manifest.json and manifest.sha256 follow."""
    source = zipfile.ZipFile(io.BytesIO(data))
    files = {name: source.read(name) for name in source.namelist()}
    metadata_digest = _sha(files["metadata.xml"])
    for name, content in changes.items():
        if fix_manifests:
            old, new = _sha(files[name]), _sha(content)
            for listing in ("metadata.xml", "manifest.json"):
                files[listing] = files[listing].replace(old.encode(), new.encode())
        files[name] = content
    if fix_manifests:
        files["manifest.json"] = files["manifest.json"].replace(metadata_digest.encode(), _sha(files["metadata.xml"]).encode())
        lines = files["manifest.sha256"].decode().splitlines()
        files["manifest.sha256"] = "".join(f"{_sha(files[line[66:]])}  {line[66:]}\n" for line in lines).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, content in files.items():
            target.writestr(name, content)
    return out.getvalue()


def test_the_archive_holds_exactly_what_the_unit_reimbursed_and_checks_out(app_ctx, client, operator, tmp_path):
    from backend.receipts.signing import platform_signer
    from backend.verification.layout import signer

    hospital = operator.register_hospital()
    unit = UnitClient.open(operator)
    other = UnitClient.open(operator, kind="commercial_insurer")
    _, full = hospital.issue(payer_id=ZHANG_SAN_ID)
    _, partial = hospital.issue(payer_id=ZHANG_SAN_ID)
    _, rejected = hospital.issue(payer_id=ZHANG_SAN_ID)
    _, elsewhere = hospital.issue(payer_id=ZHANG_SAN_ID)
    _reimburse(unit, full, "356.80", reference="BX-0001")
    _reimburse(unit, partial, "100.00")
    _reimburse(other, partial, "50.00")  # the rest of it, partly, by another unit
    _reject(unit, rejected)
    _reimburse(other, elsewhere, "356.80")
    booked = unit.post(f"/receipts/{receipt_key(full)}/booking",
                       json={"voucher_no": "记-2025-11-0042", "booked_at": datetime.now(CHINA_TZ).isoformat(), "amount": "356.80"})
    assert booked.status_code == 201, booked.json
    credit_code = unit.get("/me").json["credit_code"]
    mine = {receipt_key(full), receipt_key(partial)}

    date_from, date_to = _today() - timedelta(days=1), _today() + timedelta(days=1)
    resp = _archive(unit, date_from, date_to)
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    assert resp.headers["Content-Disposition"] == f'attachment; filename="piaojia-archive-{credit_code}-{date_from}-{date_to}.zip"'
    zf = zipfile.ZipFile(io.BytesIO(resp.data))
    assert zf.testzip() is None
    names = zf.namelist()
    assert len(names) == len(set(names))
    assert {n for n in names if "/" not in n} == TOP
    folders = {n.split("/")[0] for n in names if "/" in n}
    assert folders == mine  # not the rejected one, not the other unit's
    for key in mine:
        assert {n.split("/", 1)[1] for n in names if n.startswith(key + "/")} == RECEIPT_FILES
    # The payer's ID only masked, everywhere but in the data file, the legal original both seals cover.
    assert not any(ZHANG_SAN_ID.encode() in zf.read(n) for n in names if not n.endswith("/data.xml"))

    # Digests: manifest.json lists every other file, manifest.sha256 every file but itself.
    manifest = json.loads(zf.read("manifest.json"))
    assert set(manifest["receipts"]) == mine and len(manifest["receipts"]) == 2
    assert manifest["unit"]["credit_code"] == credit_code and manifest["from"] == str(date_from) and manifest["to"] == str(date_to)
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    assert set(listed) == set(names) - {"manifest.json", "manifest.sha256"}
    assert all(_sha(zf.read(path)) == digest for path, digest in listed.items())
    sums = dict(reversed(line.split("  ", 1)) for line in zf.read("manifest.sha256").decode().splitlines())
    assert set(sums) == set(names) - {"manifest.sha256"}
    assert all(_sha(zf.read(path)) == digest for path, digest in sums.items())

    jwks = client.get("/api/v1/platform/jwks.json").json
    for sent in (full, partial):
        key = receipt_key(sent)
        receipt = json.loads(zf.read(f"{key}/receipt.json"))
        assert receipt["key"] == key and receipt["total_amount"] == sent["total_amount"]
        assert receipt["payer"]["id_number"] != ZHANG_SAN_ID and receipt["payer"]["id_number"].endswith(ZHANG_SAN_ID[-4:])
        assert receipt["signature"] == sent["signature"] and receipt["supervision_signature"]["value"]
        checked = verify_layout(zf.read(f"{key}/layout.pdf"), [signer().cert_pem])
        assert checked["valid"] and checked["key"] == key and checked["elements"]["total_amount"] == sent["total_amount"]
        signatures = json.loads(zf.read(f"{key}/signatures.json"))
        assert signatures["signature"] == sent["signature"] and signatures["supervision_signature"] == receipt["supervision_signature"]
        assert signatures["jwks"] == jwks and signatures["supervision_signature"]["kid"] == jwks["keys"][0]["kid"]
        assert signatures["layout_certificate"].encode() == signer().cert_pem
        assert "receipt.reimbursed" in [e["event"] for e in json.loads(zf.read(f"{key}/timeline.json"))]
        data_file = zf.read(f"{key}/data.xml")
        assert datafile.parse(data_file).key == key and datafile.parse(data_file).main["TotalAmount"] == sent["total_amount"]
        assert datafile.verify(data_file, datafile.SUPERVISOR, platform_signer().public_key, alg=platform_signer().alg).valid
        assert data_file == client.get(f"/api/v1/unit/receipts/{key}/data-file", headers=unit.headers).data
    ledger = json.loads(zf.read(f"{receipt_key(partial)}/ledger.json"))
    assert [(e["unit"]["name"], e["amount"]) for e in ledger] == [(unit.name, "100.00"), (other.name, "50.00")]

    # metadata.xml (DA/T 95-2022): both vouchers, what this unit reimbursed and booked, every file's digest.
    vouchers = _vouchers(zf)
    assert set(vouchers) == mine
    for key, voucher in vouchers.items():
        assert voucher.findtext("电子会计凭证类型") == "财政电子票据"
        assert voucher.findtext("开票日期") == full["issue_date"] and voucher.findtext("金额") == "356.80"
        assert voucher.findtext("开票单位/名称") == hospital.name and voucher.findtext("报销单位/名称") == unit.name
        assert voucher.findtext("报销单位/统一社会信用代码") == credit_code
        assert voucher.findtext("报销日期") == str(_today()) and voucher.findtext("归档时间")
        files = {f.findtext("文件名称"): f.findtext("摘要值") for f in voucher.iter("文件")}
        assert files == {f"{key}/{name}": _sha(zf.read(f"{key}/{name}")) for name in RECEIPT_FILES}
    assert vouchers[receipt_key(partial)].findtext("报销金额") == "100.00"  # the other unit's 50.00 is not ours
    assert vouchers[receipt_key(partial)].find("入账凭证号") is None
    assert vouchers[receipt_key(full)].findtext("报销金额") == "356.80"
    assert vouchers[receipt_key(full)].findtext("入账凭证号") == "记-2025-11-0042"
    assert vouchers[receipt_key(full)].findtext("报销记录/报销/报销单号") == "BX-0001"

    # Each receipt read is in its citizen's access log; the rejected one was not read.
    zhang = citizen_login(client)

    def archived(sent):
        log = client.get(f"/api/v1/me/receipts/{receipt_key(sent)}/access-log", headers=zhang).json["items"]
        return [e["accessor"]["name"] for e in log if e["action"] == "archive"]

    assert archived(full) == [unit.name] and archived(partial) == [unit.name] and archived(rejected) == []

    # Streamed: the bytes of each receipt go out before the next is rendered.
    streamed = client.get("/api/v1/unit/archive", headers=unit.headers, query_string={"from": str(date_from), "to": str(date_to)},
                          buffered=False)
    chunks = list(streamed.response)
    streamed.close()
    assert streamed.is_streamed and "Content-Length" not in streamed.headers
    assert len(chunks) >= 3 and chunks[0].startswith(b"PK\x03\x04")  # a receipt, a receipt, the listings

    # The other unit's archive: its own two, never this unit's full one.
    theirs = zipfile.ZipFile(io.BytesIO(_around_today(other).data))
    assert json.loads(theirs.read("manifest.json"))["receipts"] == [receipt_key(partial), receipt_key(elsewhere)]
    assert _vouchers(theirs)[receipt_key(partial)].findtext("报销金额") == "50.00"

    # archive-check: whole → ok; one byte of a receipt.json changed → the problem, exit 1.
    path = tmp_path / "archive.zip"
    path.write_bytes(resp.data)
    code, report = _check(app_ctx, path)
    assert code == 0 and report == {"ok": True, "receipts": 2, "files": len(names), "problems": []}
    target = f"{receipt_key(partial)}/receipt.json"
    original = zf.read(target)
    at = original.index(b'"total_amount": "356.80"') + len(b'"total_amount": "')
    tampered = original[:at] + b"9" + original[at + 1:]  # 956.80
    path.write_bytes(_rewrite(resp.data, {target: tampered}))
    code, report = _check(app_ctx, path)
    assert code == 1 and not report["ok"]
    assert {(p["path"], p["problem"]) for p in report["problems"]} == {(target, "digest_mismatch")}
    assert {p["detail"] for p in report["problems"]} == {"SHA-256 differs from manifest.json", "SHA-256 differs from manifest.sha256",
                                                         "SHA-256 differs from metadata.xml"}


def test_archive_check_finds_a_broken_zip_a_foreign_seal_and_a_renamed_folder(app_ctx, operator, tmp_path):
    unit = UnitClient.open(operator)
    _, sent = operator.register_hospital().issue()
    _reimburse(unit, sent, "356.80")
    data = _around_today(unit).data
    key = receipt_key(sent)
    path = tmp_path / "archive.zip"

    # A byte flipped in the stored bytes of the layout file: the zip itself no longer reads.
    zf = zipfile.ZipFile(io.BytesIO(data))
    info = zf.getinfo(f"{key}/layout.pdf")
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26: info.header_offset + 30])
    at = info.header_offset + 30 + name_len + extra_len + info.compress_size // 2
    path.write_bytes(data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:])
    code, report = _check(app_ctx, path)
    assert code == 1 and (f"{key}/layout.pdf", "unreadable") in {(p["path"], p["problem"]) for p in report["problems"]}

    # A layout file sealed again by someone else, every digest made to fit: the signature gives it away.
    other_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    resealed = NodeSigner(other_key, common_name="Someone else", field_name="OtherSeal").sign(zf.read(f"{key}/layout.pdf"))
    path.write_bytes(_rewrite(data, {f"{key}/layout.pdf": resealed}, fix_manifests=True))
    code, report = _check(app_ctx, path)
    assert code == 1 and [(p["path"], p["problem"]) for p in report["problems"]] == [(f"{key}/layout.pdf", "layout_signature_invalid")]

    # A receipt.json that is not its folder's receipt, digests made to fit.
    receipt = json.loads(zf.read(f"{key}/receipt.json"))
    swapped = json.dumps({**receipt, "key": "46060125-9999999999"}, ensure_ascii=False).encode()
    path.write_bytes(_rewrite(data, {f"{key}/receipt.json": swapped}, fix_manifests=True))
    code, report = _check(app_ctx, path)
    assert code == 1 and [(p["path"], p["problem"]) for p in report["problems"]] == [(f"{key}/receipt.json", "key_mismatch")]

    # metadata.xml that leaves the receipt out.
    metadata = zf.read("metadata.xml").decode()
    start, end = metadata.index("<电子会计凭证 "), metadata.index("</电子会计凭证>") + len("</电子会计凭证>")
    path.write_bytes(_rewrite(data, {"metadata.xml": (metadata[:start] + metadata[end:]).encode()}))
    code, report = _check(app_ctx, path)
    assert code == 1 and ("metadata.xml", "receipt_not_listed") in {(p["path"], p["problem"]) for p in report["problems"]}

    path.write_bytes(b"not a zip at all")
    code, report = _check(app_ctx, path)
    assert code == 1 and report["problems"][0]["problem"] == "not_a_zip"


def test_archive_check_proves_each_data_file(app_ctx, operator, tmp_path):
    unit = UnitClient.open(operator)
    hospital = operator.register_hospital()
    _, first = hospital.issue()
    _, second = hospital.issue()
    _reimburse(unit, first, "356.80")
    _reimburse(unit, second, "356.80")
    data = _around_today(unit).data
    zf = zipfile.ZipFile(io.BytesIO(data))
    target = f"{receipt_key(first)}/data.xml"
    original = zf.read(target)
    path = tmp_path / "archive.zip"

    def problems(changes):
        path.write_bytes(_rewrite(data, changes, fix_manifests=True))
        code, report = _check(app_ctx, path)
        assert code == (0 if report["ok"] else 1)
        return [(p["path"], p["problem"]) for p in report["problems"]]

    assert problems({}) == []
    # One element changed, every digest made to fit: the finance seal no longer covers it.
    changed, count = re.subn(rb"<TotalAmount>356.80</TotalAmount>", b"<TotalAmount>956.80</TotalAmount>", original)
    assert count == 1
    assert problems({target: changed}) == [(target, "data_file_signature_invalid")]
    # One element removed: not a data file any more.
    removed, count = re.subn(rb"<TotalAmount>[^<]*</TotalAmount>\s*", b"", original)
    assert count == 1
    assert problems({target: removed}) == [(target, "data_file_refused")]
    # Another receipt's file, sealed and whole, in this folder.
    assert problems({target: zf.read(f"{receipt_key(second)}/data.xml")}) == [(target, "key_mismatch")]
    # Sealed again by someone other than this node.
    other_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    resealed = datafile.fill_supervisor_seal_and_sign(original, "ES256", other_pem, {"id": "x", "name": "别处监制章", "hash": "0" * 64})
    assert problems({target: resealed}) == [(target, "data_file_signature_invalid")]

    # Left out of the zip: named as the data file missing.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as without:
        for name in zf.namelist():
            if name != target:
                without.writestr(name, zf.read(name))
    path.write_bytes(out.getvalue())
    code, report = _check(app_ctx, path)
    assert code == 1 and (target, "data_file_missing") in {(p["path"], p["problem"]) for p in report["problems"]}


def test_a_synced_copy_of_another_provinces_receipt_has_no_data_file_and_checks_out(app_ctx, operator, tmp_path):
    from backend.common.models import utcnow
    from backend.extensions import db
    from backend.receipts.models import Receipt
    from backend.receipts.services import find_by_key

    unit = UnitClient.open(operator)
    _, sent = operator.register_hospital().issue()
    _reimburse(unit, sent, "356.80")
    key = receipt_key(sent)
    db.session.execute(Receipt.__table__.update().where(Receipt.id == find_by_key(key).id).values(synced_at=utcnow()))
    db.session.commit()  # as if the issuing node had synced it here: that node keeps its data file
    zf = zipfile.ZipFile(io.BytesIO(_around_today(unit).data))
    assert json.loads(zf.read(f"{key}/receipt.json"))["synced_at"]
    assert {n.split("/", 1)[1] for n in zf.namelist() if n.startswith(key + "/")} == RECEIPT_FILES - {"data.xml"}
    path = tmp_path / "archive.zip"
    path.write_bytes(zf.fp.getvalue())
    code, report = _check(app_ctx, path)
    assert code == 0 and report["ok"], report


def test_the_period_is_of_beijing_days(app_ctx, operator):
    unit = UnitClient.open(operator)
    hospital = operator.register_hospital()
    _, late = hospital.issue()
    _, after_midnight = hospital.issue()
    _reimburse(unit, late, "10.00", reimbursed_at="2025-11-30T15:30:00+00:00")  # 23:30 on 30 November in Beijing
    _reimburse(unit, after_midnight, "10.00", reimbursed_at="2025-11-30T16:30:00+00:00")  # 00:30 on 1 December

    def receipts(date_from, date_to):
        resp = _archive(unit, date_from, date_to)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return json.loads(zipfile.ZipFile(io.BytesIO(resp.data)).read("manifest.json"))["receipts"]

    assert receipts("2025-11-30", "2025-11-30") == [receipt_key(late)]
    assert receipts("2025-12-01", "2025-12-01") == [receipt_key(after_midnight)]
    assert receipts("2025-11-01", "2025-12-31") == [receipt_key(late), receipt_key(after_midnight)]
    assert receipts("2025-12-02", "2026-01-31") == []
    vouchers = _vouchers(zipfile.ZipFile(io.BytesIO(_archive(unit, "2025-11-01", "2025-12-31").data)))
    assert vouchers[receipt_key(late)].findtext("报销日期") == "2025-11-30"
    assert vouchers[receipt_key(after_midnight)].findtext("报销日期") == "2025-12-01"


@pytest.mark.parametrize("params, code", [
    ({"from": "2023-01-01", "to": "2025-12-31"}, "archive_range_too_long"),
    ({"from": "2025-01-01", "to": "2026-01-02"}, "archive_range_too_long"),  # 367 days
    ({"from": "2025-12-01", "to": "2025-11-30"}, "validation_failed"),
    ({}, "validation_failed"),
    ({"from": "2025-11-01"}, "validation_failed"),
    ({"to": "2025-11-30"}, "validation_failed"),
    ({"from": "2025-11-1", "to": "2025-11-30"}, "validation_failed"),
    ({"from": "20251101", "to": "20251130"}, "validation_failed"),
    ({"from": "2025-02-30", "to": "2025-03-01"}, "validation_failed"),
    ({"from": "2025-11-01T00:00:00+08:00", "to": "2025-11-30"}, "validation_failed"),
    ({"from": "0001-01-01", "to": "0001-01-02"}, "validation_failed"),
    ({"from": "9999-12-31", "to": "9999-12-31"}, "validation_failed"),
])
def test_bad_periods_are_refused(client, operator, params, code):
    unit = UnitClient.open(operator)
    resp = unit.get("/archive", **params)
    assert resp.status_code == 422 and resp.json["code"] == code, resp.json


def test_a_year_of_366_days_is_allowed_and_only_units_may_ask(client, operator):
    unit = UnitClient.open(operator)
    assert _archive(unit, "2024-01-01", "2024-12-31").status_code == 200  # a leap year
    assert _archive(unit, "2025-01-01", "2026-01-01").status_code == 200  # 366 days, both ends counted
    query = {"from": "2025-11-01", "to": "2025-11-30"}
    assert client.get("/api/v1/unit/archive", query_string=query).status_code == 401
    assert client.get("/api/v1/unit/archive", query_string=query, headers=operator.headers).status_code == 403
    assert client.get("/api/v1/unit/archive", query_string=query, headers=citizen_login(client)).status_code in (401, 403)


def test_a_unit_with_nothing_gets_a_valid_empty_archive(app_ctx, operator, tmp_path):
    unit = UnitClient.open(operator)
    _, sent = operator.register_hospital().issue()
    lock = unit.lock_with_proof(sent).json
    assert unit.unlock(receipt_key(sent), lock["lock_token"]).status_code == 200  # held, never reimbursed
    resp = _around_today(unit)
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(resp.data))
    assert zf.testzip() is None and set(zf.namelist()) == TOP
    manifest = json.loads(zf.read("manifest.json"))
    assert manifest["receipts"] == [] and [f["path"] for f in manifest["files"]] == ["metadata.xml"]
    root = ET.fromstring(zf.read("metadata.xml"))
    assert list(root.iter("电子会计凭证")) == [] and root.findtext("归档信息/凭证数量") == "0"
    path = tmp_path / "empty.zip"
    path.write_bytes(resp.data)
    code, report = _check(app_ctx, path)
    assert code == 0 and report["ok"] and report["receipts"] == 0
