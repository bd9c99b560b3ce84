"""What the citizen reads for each event: Chinese, saying what happened and what to do next."""


def _unit_name(data):
    return ((data or {}).get("unit") or {}).get("name") or "报销单位"


def _yuan(amount) -> str:
    """¥10,790.50 from a decimal string ("10790.50")."""
    from decimal import Decimal, InvalidOperation

    try:
        return f"¥{Decimal(str(amount)):,.2f}"
    except (InvalidOperation, ValueError):
        return str(amount or "")


def _booked(unit: str, r: str, d: dict) -> str:
    """Booking is the unit's own accounting of what it paid: it closes nothing else, so the
    message says what is left for other units, if anything (DESIGN §10 revised)."""
    text = f"{unit}已将其就{r}报销的 {_yuan(d.get('amount', ''))} 入账（凭证号 {d.get('voucher_no', '')}）。"
    remaining = d.get("remaining_amount")
    if remaining in (None, "0.00"):
        return text + "这笔报销不能再次入账。"
    return text + f"票据剩余 {_yuan(remaining)} 仍可由其他单位报销。"


def render(event_type: str, data: dict | None, receipt_label: str | None) -> tuple[str, str]:
    d = data or {}
    r = receipt_label or "您的票据"
    unit = _unit_name(d)
    messages = {
        "receipt.issued": ("收到一张新的电子票据",
                           f"{r}已存入您的个人数字账户。需要报销时，请在报销单位出示的二维码页面扫码授权。"),
        "receipt.red_reversed": ("票据已冲红",
                                 f"{r}已被开票单位冲红（原因：{d.get('reason') or '未说明'}），不能再用于报销。如有疑问请联系开票单位。"),
        "receipt.paper_exchanged": ("票据已换开纸质票据", f"{r}已换开为纸质票据，电子票据不能再用于报销，请使用纸质票据办理。"),
        "receipt.voided": ("票据已作废", f"{r}已作废（原因：{d.get('reason') or '未说明'}），不能用于报销。"),
        "receipt.authorized": ("已授权报销单位", f"您已将{r}授权给{unit}，可在“我的授权”中查看或撤销。"),
        "receipt.locked": ("票据报销中", f"{unit}已锁定{r}并开始办理报销，办理期间票据不能用于其他报销。"),
        "receipt.unlocked": ("票据已解锁", f"{unit}已解除对{r}的锁定（{d.get('reason') or '无需处理'}）。"),
        "receipt.lock_expired": ("票据锁定已到期", f"{unit}对{r}的锁定已到期并自动解除。如报销仍在办理，请联系{unit}。"),
        "receipt.reimbursed": ("报销已到账", f"{unit}已就{r}报销 {d.get('amount', '')} 元。可在“我的报销”中查看明细。"),
        "receipt.booked": ("报销单位已入账", _booked(unit, r, d)),
        "receipt.reimbursement_rejected": ("报销未通过", f"{unit}未通过{r}的报销申请（原因：{d.get('reason') or '未说明'}）。您可以补充材料后重新申请。"),
        "authorization.requested": ("收到授权请求", f"{unit}请求使用您的票据办理报销，请在票夹中确认。"),
        "authorization.approved": ("授权成功", f"您已同意{unit}的授权请求，该单位可以查验并办理所选票据的报销。"),
        "authorization.declined": ("已拒绝授权", f"您已拒绝{unit}的授权请求。"),
        "authorization.revoked": ("授权已撤销", f"您对{unit}的授权已撤销，该单位不能再使用相关票据。"),
    }
    return messages.get(event_type, ("票据状态更新", f"{r}状态有更新，请在票夹中查看。"))
