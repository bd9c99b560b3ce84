"""Demo hospitals and the receipts they issue to the demo citizens.

Hospitals and amounts follow the Hainan pilot (seeds/000): 三亚中心医院, 广东省中医院海南医院
and 上海交通大学医学院附属瑞金医院海南医院. Dates are fixed so seeding twice is a no-op.
"""
import base64
import hashlib
from datetime import date, timedelta

from backend.common.money import format_fen

DEMO_HOSPITALS = [
    # 三亚中心医院's billing system issues national data files sealed with SM2 (DESIGN §11); the
    # other two push JSON receipts sealed with ES256, so both paths show in the demo.
    {"name": "三亚中心医院", "credit_code": "12460200428201234X", "serial": "01", "data_file": True},
    {"name": "广东省中医院海南医院", "credit_code": "12460000MB0C12345A", "serial": "02"},
    {"name": "上海交通大学医学院附属瑞金医院海南医院", "credit_code": "12469000MB1D23456B", "serial": "03"},
]

# (name, id_type, id_number): the demo citizens' payer identities.
DEMO_PAYERS = [
    ("张三", "resident_id", "460200199001011234"),
    ("李四", "resident_id", "460100198505052345"),
    ("王五", "resident_id", "440106198807073456"),
]

OUTPATIENT_ITEMS = [
    [("C0104", "西药费", 1, "项", 15680), ("C0107", "检查费", 1, "次", 12000), ("C0108", "化验费", 2, "次", 4000)],
    [("C0105", "中成药费", 1, "项", 8650), ("C0109", "治疗费", 3, "次", 3000)],
    [("C0107", "检查费", 1, "次", 48000), ("C0108", "化验费", 4, "次", 2550)],
]
INPATIENT_ITEMS = [("C0201", "床位费", 9, "天", 6000), ("C0104", "西药费", 1, "项", 325050),
                   ("C0109", "治疗费", 1, "项", 180000), ("C0202", "手术费", 1, "次", 520000)]


def _items(rows):
    items = [{"code": c, "name": n, "quantity": str(q), "unit": u, "rate": format_fen(r), "amount": format_fen(q * r), "remark": ""}
             for c, n, q, u, r in rows]
    return items, sum(q * r for _, _, q, _, r in rows)


def _check_code(hospital, seq) -> str:
    digest = hashlib.sha256(f"{hospital['credit_code']}:{seq}".encode()).digest()
    return base64.b32encode(digest).decode()[:6]


def _split(total):
    fund = total * 55 // 100
    account = total * 10 // 100
    cash = total - fund - account
    return {"fund_paid": format_fen(fund), "account_paid": format_fen(account), "cash_paid": format_fen(cash),
            "other_paid": "0.00", "self_pay": format_fen(cash * 80 // 100), "self_expense": format_fen(cash * 10 // 100)}


def demo_receipt(hospital: dict, payer: tuple, seq: int, *, kind="outpatient", day: date, variant=0) -> dict:
    """One unsigned receipt in the wire form of DESIGN §2."""
    name, id_type, id_number = payer
    if kind == "outpatient":
        items, total = _items(OUTPATIENT_ITEMS[variant % len(OUTPATIENT_ITEMS)])
        title = "海南省医疗门诊收费票据（电子）"
        visit = {"visit_type": "outpatient", "visit_date": day.isoformat(), "department": ["内科", "中医科", "心血管内科"][variant % 3],
                 "medical_record_no": f"MZ{day:%Y%m%d}{seq:04d}", "insurance_type": "职工基本医疗保险",
                 "insurance_no": f"H4602{seq:010d}", "institution_type": "综合医院"}
    else:
        items, total = _items(INPATIENT_ITEMS)
        title = "海南省医疗住院收费票据（电子）"
        visit = {"visit_type": "inpatient", "admission_date": (day - timedelta(days=9)).isoformat(), "discharge_date": day.isoformat(),
                 "inpatient_no": f"ZY{day:%Y%m%d}{seq:04d}", "department": "骨科", "insurance_type": "城乡居民基本医疗保险",
                 "insurance_no": f"H4601{seq:010d}", "institution_type": "三级甲等综合医院", "hospitalization_days": 9}
    return {
        "code": f"4606{hospital['serial']}{day.year % 100:02d}", "number": f"{int(hospital['serial']):02d}{seq:08d}",
        "check_code": _check_code(hospital, seq),
        "title": title, "kind": kind, "issue_date": day.isoformat(), "issued_at": f"{day.isoformat()}T10:{seq % 60:02d}:00+08:00",
        "issuer": {"name": hospital["name"], "credit_code": hospital["credit_code"]},
        "clerk": "王芳", "checker": "李强",
        "payer": {"name": name, "id_type": id_type, "id_number": id_number},
        "total_amount": format_fen(total), "payments": _split(total), "visit": visit, "items": items,
    }


def demo_plan():
    """(hospital, receipt) pairs for every demo payer, oldest first; a few later red-reversed."""
    plan = []
    seq = 0
    start = date(2025, 9, 1)
    for p_index, payer in enumerate(DEMO_PAYERS):
        for r_index in range(6):
            seq += 1
            hospital = DEMO_HOSPITALS[(p_index + r_index) % len(DEMO_HOSPITALS)]
            kind = "inpatient" if r_index == 4 else "outpatient"
            day = start + timedelta(days=13 * r_index + 3 * p_index)
            plan.append((hospital, demo_receipt(hospital, payer, seq, kind=kind, day=day, variant=r_index)))
    return plan
