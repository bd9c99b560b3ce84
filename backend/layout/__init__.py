"""Layout files (版式文件) of receipts: render a receipt as a PDF, seal it with the node's
PAdES signature, and check a PDF someone hands us.

    from backend.layout import render_receipt_pdf, NodeSigner, verify_layout, LayoutError

Pure library code: no Flask app, no database; the routes and the configuration live elsewhere.
"""
from backend.layout.numerals import to_chinese_capital
from backend.layout.render import content_digest, render_receipt_pdf
from backend.layout.signing import (
    NodeSigner,
    certificate_fingerprint,
    self_signed_certificate,
)
from backend.layout.verify import LayoutError, verify_layout

__all__ = [
    "LayoutError", "NodeSigner", "certificate_fingerprint", "content_digest", "render_receipt_pdf",
    "self_signed_certificate", "to_chinese_capital", "verify_layout",
]
