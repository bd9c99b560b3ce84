"""The electronic archive (电子会计凭证归档, DESIGN §10): the receipts a unit reimbursed in a
period, as one zip for its accounting archive after DA/T 95-2022 (行政事业单位一般公共预算
支出财务报销电子会计凭证档案管理技术规范).

A receipt belongs to the archive of a unit when the unit's ledger holds a `reimbursed` entry
for it whose `reimbursed_at` falls on a day of the period (Beijing dates, both ends included).
The zip holds, per receipt, a folder named by its key:

    <key>/receipt.json      the receipt as the unit sees it: wire form (payer ID masked), both
                            signatures, status facets
    <key>/layout.pdf        the layout file (版式文件), signed by this node
    <key>/data.xml          the national data file (数据文件, DESIGN §11), complete: the
                            issuer's file byte for byte (or the one generated for a JSON push)
                            with this node's finance seal; it alone holds the payer's ID
                            unmasked, as both seals cover it. None for a synced copy of another
                            province's receipt (receipt.json has `synced_at`): its issuing node
                            keeps the file
    <key>/signatures.json   the issuer seal, the supervision signature, the node's JWKS and
                            its layout certificate
    <key>/timeline.json     the receipt's history
    <key>/ledger.json       its reimbursement ledger

and at the top level

    metadata.xml            per voucher its core elements in Chinese-labelled elements and its
                            files with their SHA-256 (DA/T 95-2022)
    manifest.json           what the archive is and every file with its SHA-256
    manifest.sha256         the same digests in `sha256sum -c` format, manifest.json included

`prepare` decides, inside the request, what goes in and records the reads in the access log;
`Archive.chunks` then writes the zip one receipt at a time and hands out the bytes as they
are written (no layout or data file is held longer than its own turn). `check_archive` is the
other end: `flask --app wsgi archive-check PATH`.
"""
import hashlib
import json
import re
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from xml.etree import ElementTree as ET

from flask import current_app
from marshmallow import Schema, ValidationError, validate, validates_schema
from sqlalchemy import func, select

from backend.common.errors import ValidationFailed
from backend.common.models import as_utc, utcnow
from backend.common.money import format_fen
from backend.common.validators import IsoDate
from backend.extensions import db
from backend.receipts.models import Receipt
from backend.receipts.services import CHINA_TZ
from backend.reimbursements.models import Booking, LedgerEntry
from backend.reimbursements.services import log_access
from backend.units.models import Unit

MAX_DAYS = 366
FORMAT, VERSION, STANDARD = "piaojia-archive", 1, "DA/T 95-2022"
VOUCHER_TYPE = "财政电子票据"
DATA_FILE = "data.xml"
RECEIPT_FILES = ("receipt.json", "layout.pdf", DATA_FILE, "signatures.json", "timeline.json", "ledger.json")
METADATA, MANIFEST, MANIFEST_SHA256 = "metadata.xml", "manifest.json", "manifest.sha256"
TOP_LEVEL = (METADATA, MANIFEST, MANIFEST_SHA256)
SIGNATURES_NOTE = ("开票单位签章（signature）与财政监制签章（supervision_signature）均按 RFC 8785 规范化的完整票据数据计算，"
                   "其中含未脱敏的交款人证件号码；receipt.json 中该号码已脱敏，原文验签请向财政电子票据平台查验。"
                   "版式文件 layout.pdf 的签章可用 layout_certificate 验证。"
                   "数据文件 data.xml 是票据的完整原件（含未脱敏的证件号码），其财政监制签章可用 jwks 中本节点的公钥离线验证，"
                   "以数据文件开具的票据另含开票单位签章；其他省份开具的票据无此文件，由开票地节点保存。")
_LOG_CHUNK = 1000
_EARLIEST, _LATEST = date(1970, 1, 1), date(9998, 12, 31)


class ArchiveArgsSchema(Schema):
    date_from = IsoDate(required=True, data_key="from", validate=validate.Range(min=_EARLIEST, max=_LATEST),
                        metadata={"description": "first day of the period (Beijing date), YYYY-MM-DD"})
    date_to = IsoDate(required=True, data_key="to", validate=validate.Range(min=_EARLIEST, max=_LATEST),
                      metadata={"description": "last day of the period (Beijing date, included), YYYY-MM-DD; "
                                               f"at most {MAX_DAYS} days after `from` counting both ends"})

    @validates_schema
    def _in_order(self, data, **kwargs):
        if data["date_to"] < data["date_from"]:
            raise ValidationError("must not be before `from`.", field_name="to")


class ArchiveRangeTooLong(ValidationFailed):
    code = "archive_range_too_long"
    title = f"归档期间过长，最多 {MAX_DAYS} 天"


def check_range(date_from: date, date_to: date):
    if date_to < date_from:
        raise ValidationFailed("`to` is before `from`.", errors={"to": ["must not be before `from`."]})
    days = (date_to - date_from).days + 1
    if days > MAX_DAYS:
        raise ArchiveRangeTooLong(f"The period has {days} days; an archive covers at most {MAX_DAYS}.",
                                  extra={"max_days": MAX_DAYS})


def _bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the Beijing days from `date_from` to `date_to`."""
    start = datetime.combine(date_from, time.min, CHINA_TZ).astimezone(timezone.utc)
    end = datetime.combine(date_to + timedelta(days=1), time.min, CHINA_TZ).astimezone(timezone.utc)
    return start, end


def _beijing(value: datetime) -> datetime:
    return as_utc(value).astimezone(CHINA_TZ)


def _json_bytes(value) -> bytes:
    def default(obj):
        if isinstance(obj, (datetime, date)):
            return obj.isoformat()
        raise TypeError(f"{type(obj).__name__} is not JSON serializable")

    return (json.dumps(value, ensure_ascii=False, indent=2, default=default) + "\n").encode("utf-8")


class _Sink:
    """Where the zip is written: the bytes are taken out as they come. It has no `tell` and
    no `seek`, so zipfile writes each entry's sizes after its data and never goes back."""

    def __init__(self):
        self._parts = []

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self):
        pass

    def drain(self):
        if self._parts:
            data = b"".join(self._parts)
            self._parts.clear()
            yield data


@dataclass
class Archive:
    unit: Unit
    unit_id: str
    unit_name: str
    unit_credit_code: str
    date_from: date
    date_to: date
    receipt_ids: list

    @property
    def filename(self) -> str:
        return f"piaojia-archive-{self.unit_credit_code}-{self.date_from.isoformat()}-{self.date_to.isoformat()}.zip"

    def chunks(self):
        """The zip's bytes, a receipt at a time. Needs the request context (the layout
        file's verification URL) and the database for the whole iteration."""
        sink = _Sink()
        archived_at = utcnow().astimezone(CHINA_TZ).replace(microsecond=0)
        stamp = archived_at.timetuple()[:6]
        files, vouchers = [], []
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            for receipt_id in self.receipt_ids:
                try:
                    voucher = self._write_receipt(zf, receipt_id, stamp, files)
                except Exception:  # the answer has begun: the client gets a truncated zip, we the cause
                    current_app.logger.exception("archive failed mid-stream", extra={"unit_id": self.unit_id, "receipt_id": receipt_id})
                    raise
                if voucher is not None:
                    voucher["archived_at"] = archived_at.isoformat()
                    vouchers.append(voucher)
                db.session.rollback()  # read only: end the transaction, free the connection between receipts
                yield from sink.drain()
            _add(zf, METADATA, self._metadata_xml(vouchers, archived_at), stamp, files)
            manifest = _json_bytes({
                "format": FORMAT, "version": VERSION, "standard": STANDARD,
                "node": current_app.config.get("NODE_PROVINCE"),
                "unit": {"id": self.unit_id, "name": self.unit_name, "credit_code": self.unit_credit_code},
                "from": self.date_from.isoformat(), "to": self.date_to.isoformat(), "timezone": "+08:00",
                "generated_at": archived_at.isoformat(),
                "receipts": [v["key"] for v in vouchers],
                "files": files,
            })
            manifest_digest = _add(zf, MANIFEST, manifest, stamp, None)
            lines = [f"{f['sha256']}  {f['path']}\n" for f in files] + [f"{manifest_digest}  {MANIFEST}\n"]
            _add(zf, MANIFEST_SHA256, "".join(lines).encode("utf-8"), stamp, None)
        yield from sink.drain()

    def _write_receipt(self, zf, receipt_id: int, stamp, files: list) -> dict | None:
        from backend.receipts.data_files import complete_file
        from backend.receipts.presenters import wire_form
        from backend.receipts.signing import platform_signer
        from backend.units.views import present
        from backend.verification.layout import signed_layout, signer

        receipt = db.session.get(Receipt, receipt_id)
        if receipt is None:
            return None
        # first: generating a JSON push's file commits it, which expires what was loaded
        data_file = None if receipt.synced_at is not None else complete_file(receipt, wire_form(receipt, reveal_payer_id=True))
        answer = present([receipt], self.unit, detail=True)[0]
        key = answer["key"]
        pdf = signed_layout(answer)
        timeline, ledger = answer.pop("timeline"), answer.pop("ledger")
        signatures = {
            "key": key,
            "note": SIGNATURES_NOTE,
            "issuer": {"name": answer["issuer"]["name"], "credit_code": answer["issuer"]["credit_code"]},
            "signature": answer.get("signature"),
            "supervision_signature": answer.get("supervision_signature"),
            "jwks": {"keys": [platform_signer().public_jwk]},
            "layout_certificate": signer().cert_pem.decode("ascii"),
        }
        start, end = _bounds(self.date_from, self.date_to)
        entries = db.session.scalars(select(LedgerEntry).where(
            LedgerEntry.receipt_id == receipt_id, LedgerEntry.unit_id == self.unit_id, LedgerEntry.outcome == "reimbursed",
            LedgerEntry.reimbursed_at >= start, LedgerEntry.reimbursed_at < end).order_by(LedgerEntry.reimbursed_at, LedgerEntry.id)).all()
        bookings = db.session.scalars(select(Booking).where(Booking.receipt_id == receipt_id, Booking.unit_id == self.unit_id)
                                      .order_by(Booking.created_at)).all()
        listed = []
        for name, data in (("receipt.json", _json_bytes(answer)), ("layout.pdf", pdf), (DATA_FILE, data_file),
                           ("signatures.json", _json_bytes(signatures)), ("timeline.json", _json_bytes(timeline)),
                           ("ledger.json", _json_bytes(ledger))):
            if data is not None:
                _add(zf, f"{key}/{name}", data, stamp, listed)
        files.extend(listed)
        return {
            "key": key, "answer": {k: answer.get(k) for k in ("title", "code", "number", "check_code", "issue_date", "total_amount")},
            "issuer": signatures["issuer"], "payer_name": (answer.get("payer") or {}).get("name"),
            "reimbursed_fen": sum(e.amount_fen for e in entries),
            "entries": [{"amount": format_fen(e.amount_fen), "at": _beijing(e.reimbursed_at), "reference": e.reference} for e in entries],
            "bookings": [{"voucher_no": b.voucher_no, "booked_on": b.booked_on, "amount": format_fen(b.amount_fen)} for b in bookings],
            "files": listed,
        }

    def _metadata_xml(self, vouchers: list, archived_at: datetime) -> bytes:
        root = ET.Element("电子会计凭证档案", {"依据标准": STANDARD, "格式": FORMAT, "版本": str(VERSION)})
        info = ET.SubElement(root, "归档信息")
        _text(info, "立档单位", self.unit_name)
        _text(info, "统一社会信用代码", self.unit_credit_code)
        _text(info, "归档期间起", self.date_from.isoformat())
        _text(info, "归档期间止", self.date_to.isoformat())
        _text(info, "归档时间", archived_at.isoformat())
        _text(info, "凭证数量", str(len(vouchers)))
        _text(info, "生成系统", f"票夹 Piaojia 财政电子票据节点（{current_app.config.get('NODE_PROVINCE')}）")
        listing = ET.SubElement(root, "电子会计凭证列表")
        for index, voucher in enumerate(vouchers, start=1):
            answer = voucher["answer"]
            element = ET.SubElement(listing, "电子会计凭证", {"序号": str(index)})
            _text(element, "电子会计凭证类型", VOUCHER_TYPE)
            _text(element, "票据名称", answer["title"])
            _text(element, "票据代码", answer["code"])
            _text(element, "票据号码", answer["number"])
            _text(element, "校验码", answer["check_code"])
            _text(element, "开票日期", answer["issue_date"])
            _text(element, "金额", answer["total_amount"])
            issuer = ET.SubElement(element, "开票单位")
            _text(issuer, "名称", voucher["issuer"]["name"])
            _text(issuer, "统一社会信用代码", voucher["issuer"]["credit_code"])
            _text(element, "交款人", voucher["payer_name"])
            unit = ET.SubElement(element, "报销单位")
            _text(unit, "名称", self.unit_name)
            _text(unit, "统一社会信用代码", self.unit_credit_code)
            _text(element, "报销金额", format_fen(voucher["reimbursed_fen"]))
            _text(element, "报销日期", voucher["entries"][-1]["at"].date().isoformat() if voucher["entries"] else None)
            records = ET.SubElement(element, "报销记录")
            for entry in voucher["entries"]:
                record = ET.SubElement(records, "报销")
                _text(record, "报销金额", entry["amount"])
                _text(record, "报销时间", entry["at"].isoformat())
                if entry["reference"]:
                    _text(record, "报销单号", entry["reference"])
            for booking in voucher["bookings"]:
                _text(element, "入账凭证号", booking["voucher_no"])
                _text(element, "入账日期", booking["booked_on"].isoformat() if booking["booked_on"] else None)
                _text(element, "入账金额", booking["amount"])
            listed = ET.SubElement(element, "文件清单")
            for item in voucher["files"]:
                entry = ET.SubElement(listed, "文件")
                _text(entry, "文件名称", item["path"])
                _text(entry, "摘要算法", "SHA-256")
                _text(entry, "摘要值", item["sha256"])
                _text(entry, "文件大小", str(item["bytes"]))
            _text(element, "归档时间", voucher["archived_at"])
        ET.indent(root)
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode").encode("utf-8") + b"\n"


_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(parent, tag: str, value):
    element = ET.SubElement(parent, tag)
    element.text = _NOT_XML.sub("", str(value)) if value is not None else ""
    return element


def _add(zf: zipfile.ZipFile, path: str, data: bytes, stamp, listing: list | None) -> str:
    info = zipfile.ZipInfo(path, date_time=stamp)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)
    digest = hashlib.sha256(data).hexdigest()
    if listing is not None:
        listing.append({"path": path, "sha256": digest, "bytes": len(data)})
    return digest


def prepare(unit: Unit, date_from: date, date_to: date) -> Archive:
    """What the archive of `unit` for the period holds: the receipts it reimbursed then, in
    the order of their first reimbursement in it. Records each read in the access log
    (`archive`) and commits before a byte is sent."""
    check_range(date_from, date_to)
    start, end = _bounds(date_from, date_to)
    first = func.min(LedgerEntry.reimbursed_at)
    rows = db.session.execute(
        select(LedgerEntry.receipt_id, first)
        .where(LedgerEntry.unit_id == unit.id, LedgerEntry.outcome == "reimbursed",
               LedgerEntry.reimbursed_at >= start, LedgerEntry.reimbursed_at < end)
        .group_by(LedgerEntry.receipt_id).order_by(first, LedgerEntry.receipt_id)
    ).all()
    receipt_ids = [row[0] for row in rows]
    archive = Archive(unit=unit, unit_id=unit.id, unit_name=unit.name, unit_credit_code=unit.credit_code, date_from=date_from,
                      date_to=date_to, receipt_ids=receipt_ids)
    for index in range(0, len(receipt_ids), _LOG_CHUNK):
        log_access(receipt_ids[index: index + _LOG_CHUNK], unit, "archive")
    db.session.commit()
    current_app.logger.info("archive prepared", extra={"unit_id": archive.unit_id, "receipts": len(receipt_ids)})
    return archive


# --- checking an archive -----------------------------------------------------------------

_MAX_TEXT_BYTES = 16 * 1024 * 1024
_SHA256_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


def check_archive(source, trusted_cert_pems, supervisor_key, *, supervisor_alg: str | None = None,
                  max_layout_bytes: int | None = None) -> dict:
    """Checks an archive (a path or a binary file): every file's SHA-256 against manifest.json
    and manifest.sha256, each layout file's signature against `trusted_cert_pems`, each data
    file's finance seal against `supervisor_key` (this node's, of `supervisor_alg`), each
    receipt.json's, layout file's and data file's receipt against its folder, metadata.xml
    listing every receipt (and the digests it gives). Returns {ok, receipts, files,
    problems: [{path, problem, detail}]}."""
    from defusedxml import ElementTree as SafeET
    from defusedxml.common import DefusedXmlException

    from backend.layout import LayoutError, verify_layout

    problems = []

    def problem(path, code, detail):
        problems.append({"path": path, "problem": code, "detail": detail})

    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        problem(None, "not_a_zip", str(exc))
        return {"ok": False, "receipts": 0, "files": 0, "problems": problems}
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        names = [i.filename for i in infos]
        for name in sorted(n for n, count in Counter(names).items() if count > 1):
            problem(name, "duplicate_entry", "the zip holds this name more than once")

        digests = {}
        for info in infos:
            digest = hashlib.sha256()
            try:
                with zf.open(info) as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        digest.update(block)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:  # e.g. a bad CRC-32
                problem(info.filename, "unreadable", str(exc))
                continue
            digests[info.filename] = digest.hexdigest()

        def read(name, limit=_MAX_TEXT_BYTES):
            if name not in digests:
                return None
            info = zf.getinfo(name)
            if info.file_size > limit:
                problem(name, "too_large", f"{info.file_size} bytes")
                return None
            return zf.read(info)

        folders = {}
        for name in names:
            head, sep, rest = name.partition("/")
            if not sep:
                if name not in TOP_LEVEL:
                    problem(name, "unexpected_file", "not part of an archive")
                continue
            folders.setdefault(head, set()).add(rest)
        for name in TOP_LEVEL:
            if name not in names:
                problem(name, "missing_file", "the archive has no " + name)

        # manifest.json
        manifest = _load_json(read(MANIFEST)) if MANIFEST in digests else None
        if MANIFEST in digests and not isinstance(manifest, dict):
            problem(MANIFEST, "unreadable", "not a JSON object")
        if isinstance(manifest, dict):
            listed, entries, receipts = {}, manifest.get("files"), manifest.get("receipts")
            for item in entries if isinstance(entries, list) else [entries]:
                if isinstance(item, dict) and isinstance(item.get("path"), str):
                    listed[item["path"]] = item.get("sha256")
                else:
                    problem(MANIFEST, "malformed_entry", repr(item)[:200])
            _compare(listed, digests, names, MANIFEST, {MANIFEST, MANIFEST_SHA256}, problem)
            if not isinstance(receipts, list) or sorted(map(str, receipts)) != sorted(folders):
                problem(MANIFEST, "receipts_mismatch", "its receipts are not the archive's folders")

        # manifest.sha256
        text = read(MANIFEST_SHA256)
        if text is not None:
            listed = {}
            for number, line in enumerate(text.decode("utf-8", "replace").splitlines(), start=1):
                match = _SHA256_LINE.match(line)
                if match is None:
                    if line.strip():
                        problem(MANIFEST_SHA256, "malformed_line", f"line {number}")
                    continue
                listed[match.group(2)] = match.group(1)
            _compare(listed, digests, names, MANIFEST_SHA256, {MANIFEST_SHA256}, problem)

        # each receipt's folder
        for folder in sorted(folders):
            present_files = folders[folder]
            receipt = None
            for name in RECEIPT_FILES:
                if name not in present_files and name != DATA_FILE:
                    problem(f"{folder}/{name}", "missing_file", "every receipt's folder holds " + ", ".join(RECEIPT_FILES))
            for name in sorted(present_files - set(RECEIPT_FILES)):
                problem(f"{folder}/{name}", "unexpected_file", "not part of a receipt's folder")
            for name in ("receipt.json", "signatures.json", "timeline.json", "ledger.json"):
                path = f"{folder}/{name}"
                if name in present_files and path in digests:
                    value = _load_json(read(path))
                    if value is None:
                        problem(path, "unreadable", "not JSON")
                    elif name == "receipt.json" and (not isinstance(value, dict) or value.get("key") != folder):
                        problem(path, "key_mismatch", f"its key is {value.get('key') if isinstance(value, dict) else None!r}, its folder {folder!r}")
                    elif name == "receipt.json":
                        receipt = value
            _check_data_file(folder, present_files, receipt, digests, read, supervisor_key, supervisor_alg, problem)
            path = f"{folder}/layout.pdf"
            if path in digests:
                data = read(path, limit=max_layout_bytes or _MAX_TEXT_BYTES)
                if data is None:
                    continue
                try:
                    found = verify_layout(data, trusted_cert_pems, **({"max_bytes": max_layout_bytes} if max_layout_bytes else {}))
                except LayoutError as exc:
                    problem(path, "layout_refused", f"{exc.code}: {exc.message}")
                    continue
                if not found.get("valid"):
                    problem(path, "layout_signature_invalid", {k: found.get(k) for k in ("signed", "intact", "trusted", "coverage")})
                if found.get("key") != folder:
                    problem(path, "key_mismatch", f"the layout file is of {found.get('key')!r}, its folder {folder!r}")

        # metadata.xml
        data = read(METADATA)
        if data is not None:
            try:
                root = SafeET.fromstring(data)
            except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
                problem(METADATA, "unreadable", str(exc))
                root = None
            if root is not None:
                keys = []
                for voucher in root.iter("电子会计凭证"):
                    key = f"{(voucher.findtext('票据代码') or '').strip()}-{(voucher.findtext('票据号码') or '').strip()}"
                    keys.append(key)
                    for item in voucher.iter("文件"):
                        name, digest = (item.findtext("文件名称") or "").strip(), (item.findtext("摘要值") or "").strip()
                        if name not in digests:
                            problem(METADATA, "missing_file", f"it lists {name!r}, which the archive lacks")
                        elif digests[name] != digest:
                            problem(name, "digest_mismatch", "SHA-256 differs from metadata.xml")
                for key in sorted(set(folders) - set(keys)):
                    problem(METADATA, "receipt_not_listed", f"{key} is not in metadata.xml")
                for key in sorted(set(keys) - set(folders)):
                    problem(METADATA, "receipt_missing", f"it lists {key}, which has no folder")
                if len(keys) != len(set(keys)):
                    problem(METADATA, "duplicate_voucher", "a receipt is listed more than once")
        return {"ok": not problems, "receipts": len(folders), "files": len(names), "problems": problems}


def _check_data_file(folder, present_files, receipt, digests, read, supervisor_key, supervisor_alg, problem):
    """<folder>/data.xml: there unless receipt.json is a synced copy of another province's
    receipt, parsed, sealed by this node's finance key, and of the folder's receipt."""
    from backend import datafile

    path = f"{folder}/{DATA_FILE}"
    if DATA_FILE not in present_files:
        if not (isinstance(receipt, dict) and receipt.get("synced_at")):
            problem(path, "data_file_missing", "every receipt of this node has its data file in its folder")
        return
    if path not in digests:
        return  # unreadable, told already
    data = read(path, limit=datafile.MAX_BYTES)
    if data is None:
        return
    try:
        parsed = datafile.parse(data)
    except datafile.DataFileInvalid as exc:
        problem(path, "data_file_refused", f"{exc.code}: {exc.detail}")
        return
    found = datafile.verify(parsed, datafile.SUPERVISOR, supervisor_key, alg=supervisor_alg)
    if not found.valid:
        problem(path, "data_file_signature_invalid", {"party": datafile.SUPERVISOR, "alg": found.alg, "reason": found.reason})
    if parsed.key != folder:
        problem(path, "key_mismatch", f"the data file is of {parsed.key!r}, its folder {folder!r}")


def _load_json(data):
    if data is None:
        return None
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _compare(listed: dict, digests: dict, names: list, source: str, exempt: set, problem):
    for path, digest in listed.items():
        if path not in names:
            problem(path, "missing_file", f"listed in {source} but not in the archive")
        elif path in digests and digests[path] != digest:
            problem(path, "digest_mismatch", f"SHA-256 differs from {source}")
    for path in names:
        if path not in listed and path not in exempt:
            problem(path, "unlisted_file", f"not listed in {source}")
