from sqlalchemy import LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.models import TZDateTime, new_uuid, utcnow
from backend.common import row_cache
from backend.extensions import db

UNIT_KINDS = ("social_insurance", "commercial_insurer", "employer", "other")
UNIT_KIND_LABELS = {"social_insurance": "医保经办机构", "commercial_insurer": "商业保险公司", "employer": "用人单位", "other": "其他报销单位"}
UNIT_STATUSES = ("active", "frozen", "cancelled")


@row_cache.cached_model
class Unit(db.Model):
    """A reimbursing unit (报销单位) with its unit digital account (单位数字账户)."""

    __tablename__ = "units"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    province: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(16), default="active")
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    status_changed_at = mapped_column(TZDateTime(), nullable=True)
    created_at = mapped_column(TZDateTime(), default=utcnow)
    # The unit's own webhook endpoint (events issue).
    webhook_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    webhook_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    @property
    def public_view(self) -> dict:
        return {"id": self.id, "name": self.name, "credit_code": self.credit_code, "kind": self.kind,
                "kind_label": UNIT_KIND_LABELS.get(self.kind, self.kind)}
