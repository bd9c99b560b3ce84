"""Domain errors of the data file: a stable `code` per kind of fault, a Chinese `title`,
and the offending element's path (`/EInvoice/EInvoiceData/Main/TotalAmount`) in `detail`
and in `extra["path"]`."""
from backend.common.errors import DomainError

TITLES = {
    "data_file_too_large": "数据文件过大",
    "data_file_malformed": "数据文件不是格式正确的 UTF-8 XML",
    "data_file_dtd_forbidden": "数据文件不得含有文档类型定义（DTD）或实体",
    "data_file_too_deep": "数据文件的元素嵌套过深",
    "data_file_wrong_namespace": "数据文件的元素不得带命名空间",
    "data_file_unknown_element": "数据文件含有未知元素",
    "data_file_duplicate_element": "数据文件含有重复元素",
    "data_file_too_many_elements": "数据文件中此类元素过多",
    "data_file_missing_element": "数据文件缺少必需的元素",
    "data_file_unexpected_content": "数据文件含有不允许的内容",
    "data_file_invalid_value": "数据文件中的元素值不符合要求",
}


class DataFileInvalid(DomainError):
    """A data file refused before or while it is read. 422, except `data_file_too_large` (413)."""

    status = 422
    code = "data_file_invalid"
    title = "数据文件不符合全国财政电子票据数据标准"

    def __init__(self, code: str, detail: str, *, path: str | None = None):
        if code not in TITLES:
            raise ValueError(f"unknown data file error code {code!r}")
        super().__init__(f"{path}: {detail}" if path else detail, code=code, title=TITLES[code],
                         status=413 if code == "data_file_too_large" else 422,
                         extra={"path": path} if path else None)
        self.path = path


class ReceiptNotExpressible(DomainError):
    """A receipt that the data file cannot carry without changing it (see `from_receipt`)."""

    status = 422
    code = "receipt_not_expressible_as_data_file"
    title = "票据无法按全国数据标准写成数据文件"

    def __init__(self, detail: str, *, field: str | None = None):
        super().__init__(f"{field}: {detail}" if field else detail, extra={"field": field} if field else None)
        self.field = field
