"""Derived status of a receipt (DESIGN §2): pure functions, no Flask, no database."""
from dataclasses import dataclass
from datetime import datetime

LIFECYCLE_LABELS = {"red_reversed": "已冲红", "paper_exchanged": "已换开", "voided": "已作废"}

DISPLAY_STATUSES = ("正常", "已授权", "报销中", "部分报销", "已报销", "已冲红", "已换开", "已作废")


def reimbursement_state(total_fen: int, reimbursed_fen: int) -> str:
    if reimbursed_fen <= 0:
        return "none"
    return "full" if reimbursed_fen >= total_fen else "partial"


def lock_active(lock_unit_id, lock_expires_at: datetime | None, now: datetime) -> bool:
    """An expired lease counts as released everywhere, even before the sweeper runs."""
    return bool(lock_unit_id) and lock_expires_at is not None and lock_expires_at > now


@dataclass(frozen=True)
class StatusFacts:
    lifecycle: str
    locked: bool
    total_fen: int
    reimbursed_fen: int
    authorized: bool = False


def display_status(f: StatusFacts) -> str:
    if f.lifecycle in LIFECYCLE_LABELS:
        return LIFECYCLE_LABELS[f.lifecycle]
    if f.locked:
        return "报销中"
    state = reimbursement_state(f.total_fen, f.reimbursed_fen)
    if state == "full":
        return "已报销"
    if state == "partial":
        return "部分报销"
    if f.authorized:
        return "已授权"
    return "正常"
