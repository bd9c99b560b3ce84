"""Public verification by elements (真伪鉴别、状态查询): nothing personal in the answer,
and a wrong element answers exactly like an unknown receipt. An authentic answer counts as a
check of the receipt (查验次数, backend.verification.checks)."""
from sqlalchemy import select

from backend.extensions import db
from backend.receipts.models import Receipt
from backend.receipts.presenters import status_fields
from backend.reimbursements import proof
from backend.verification import checks

NOT_AUTHENTIC = {"authentic": False}


def verify(code: str, number: str, check_code: str, issue_date, total_amount: str, citizen=None) -> dict:
    receipt = db.session.scalar(select(Receipt).where(Receipt.code == code, Receipt.number == number))
    if not proof.prove(receipt, check_code, total_amount, issue_date=issue_date, citizen=citizen):
        return dict(NOT_AUTHENTIC)
    status = status_fields(receipt)
    answer = {
        "authentic": True, "key": receipt.key, "lifecycle": receipt.lifecycle, "display_status": status["display_status"],
        "reimbursement": status["reimbursement"], "remaining_amount": status["remaining_amount"],
        "issuer": {"name": receipt.elements["issuer"]["name"], "credit_code": receipt.elements["issuer"]["credit_code"]},
        "issue_date": receipt.issue_date.isoformat(), "total_amount": receipt.elements["total_amount"],
        "title": receipt.elements.get("title"),
    }
    return {**answer, **checks.answer_fields(checks.record_check(receipt.id, checks.ELEMENTS))}
