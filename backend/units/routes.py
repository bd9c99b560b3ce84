"""The unit API (接口查验报销): receipts authorized to the unit, lock, unlock, renew, feedback."""
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.admin.schemas import UnitSchema
from backend.common.auth import client_required
from backend.common.idempotency import idempotent
from backend.reimbursements import archive as archives
from backend.reimbursements import services as reimbursements
from backend.units import views
from backend.units.schemas import (
    BatchVerifyRequestSchema,
    BatchVerifyResultSchema,
    BookingRequestSchema,
    BookingSchema,
    OwnReceiptArgsSchema,
    TransferListSchema,
    TransferRequestSchema,
    TransferSchema,
    FeedbackRequestSchema,
    FeedbackSchema,
    LockRequestSchema,
    LockSchema,
    ReceiptListArgsSchema,
    RenewedSchema,
    RenewRequestSchema,
    UnlockedSchema,
    UnlockRequestSchema,
)
from backend.units.guards import unit_of_client
from backend.common.openapi import problem_response
from backend.receipts.schemas import ReceiptAnswerSchema, ReceiptPageSchema

blp = Blueprint("unit", __name__, url_prefix="/api/v1/unit", description="Reimbursing units (报销单位): lock, unlock, feedback")

IDEMPOTENCY_HEADER = {"in": "header", "name": "Idempotency-Key", "required": False, "schema": {"type": "string", "maxLength": 255},
                      "description": "Same key + same request → the stored answer; other request → 422; concurrent → 409. Kept ≥ 24 h."}


class UnitView(MethodView):
    decorators = [idempotent, client_required("unit")]

    @property
    def unit(self):
        return unit_of_client(g.client)


@blp.route("/me")
class Me(UnitView):
    @blp.response(200, UnitSchema)
    @blp.doc(security=[{"bearer": []}])
    def get(self):
        """The calling unit's account."""
        return self.unit


@blp.route("/receipts")
class Receipts(UnitView):
    @blp.arguments(ReceiptListArgsSchema, location="query")
    @blp.alt_response(200, schema=ReceiptPageSchema, description="payer.id_number masked", success=True)
    @blp.doc(security=[{"bearer": []}])
    def get(self, args):
        """Receipts authorized to this unit or locked by it (now or before), newest first (cursor pagination)."""
        return views.list_receipts(self.unit, **args)


@blp.route("/receipts/verify")
class BatchVerify(UnitView):
    @blp.arguments(BatchVerifyRequestSchema)
    @blp.alt_response(200, schema=BatchVerifyResultSchema, description="a result per item, in order", success=True)
    @blp.doc(security=[{"bearer": []}], parameters=[IDEMPOTENCY_HEADER])
    def post(self, data):
        """Verify and query the status of up to 100 receipts by their elements (interface mode)."""
        return views.batch_verify(self.unit, data["items"])


@blp.route("/receipts/<key>")
class ReceiptDetail(UnitView):
    @blp.alt_response(200, schema=ReceiptAnswerSchema, description="the receipt; the lock token only to its holder", success=True)
    @blp.doc(security=[{"bearer": []}])
    def get(self, key):
        """One receipt with timeline and ledger; every read is logged for its citizen."""
        return views.get_receipt(self.unit, key)


@blp.route("/receipts/<key>/lock")
class LockReceipt(UnitView):
    @blp.arguments(LockRequestSchema, required=False)
    @blp.response(201, LockSchema)
    @blp.doc(security=[{"bearer": []}], parameters=[IDEMPOTENCY_HEADER])
    def post(self, data, key):
        """Lock (报销锁定): with an active authorization, or with check_code + total_amount (interface mode)."""
        data = data or {}
        return reimbursements.lock(self.unit, key, check_code=data.get("check_code"), total_amount=data.get("total_amount"))


@blp.route("/receipts/<key>/unlock")
class UnlockReceipt(UnitView):
    @blp.arguments(UnlockRequestSchema)
    @blp.response(200, UnlockedSchema)
    @blp.doc(security=[{"bearer": []}], parameters=[IDEMPOTENCY_HEADER])
    def post(self, data, key):
        """Unlock with the current lock token."""
        return reimbursements.unlock(self.unit, key, data["lock_token"], data.get("reason"))


@blp.route("/receipts/<key>/renew")
class RenewLock(UnitView):
    @blp.arguments(RenewRequestSchema)
    @blp.response(200, RenewedSchema)
    @blp.doc(security=[{"bearer": []}], parameters=[IDEMPOTENCY_HEADER])
    def post(self, data, key):
        """Extend the lease by the configured lock period."""
        return reimbursements.renew(self.unit, key, data["lock_token"])


@blp.route("/receipts/<key>/feedback")
class Feedback(UnitView):
    @blp.arguments(FeedbackRequestSchema)
    @blp.response(201, FeedbackSchema)
    @blp.doc(security=[{"bearer": []}], parameters=[IDEMPOTENCY_HEADER])
    def post(self, data, key):
        """Report the result (报销反馈); reimbursed appends to the ledger; both outcomes unlock."""
        return reimbursements.feedback(self.unit, key, **data)


@blp.route("/receipts/<key>/booking")
class BookReceipt(UnitView):
    @blp.arguments(BookingRequestSchema)
    @blp.response(201, BookingSchema)
    @problem_response(blp, 409, "already_booked: this unit's reimbursements are all booked; booking_exceeds_total: bookings of all units would pass the total")
    @blp.doc(security=[{"bearer": []}], parameters=[IDEMPOTENCY_HEADER])
    def post(self, data, key):
        """Book this unit's reimbursement of the receipt (入账): voucher number, date, amount. Each
        reimbursement is booked at most once; all units' bookings stay within the total."""
        from backend.receipts.services import CHINA_TZ

        booked_on = data["booked_at"].astimezone(CHINA_TZ).date()
        return reimbursements.book(self.unit, key, voucher_no=data["voucher_no"], booked_on=booked_on, amount=data["amount"])


@blp.route("/own-receipts")
class OwnReceipts(UnitView):
    @blp.arguments(OwnReceiptArgsSchema, location="query")
    @blp.alt_response(200, schema=ReceiptPageSchema, description="receipts whose payer is this unit", success=True)
    @blp.doc(security=[{"bearer": []}])
    def get(self, args):
        """The unit's own receipts (单位数字账户): payer `organization` with this unit's credit code, live."""
        from backend.authorizations import transfers

        return transfers.own_receipts(self.unit, **args)


@blp.route("/own-receipts/<key>/transfers")
class OwnReceiptTransfers(UnitView):
    @blp.alt_response(200, schema=TransferListSchema, success=True)
    @blp.doc(security=[{"bearer": []}])
    def get(self, key):
        """To whom this own receipt was passed on."""
        from backend.authorizations import transfers

        return transfers.transfers_of(self.unit, key)

    @blp.arguments(TransferRequestSchema)
    @blp.response(201, TransferSchema)
    @problem_response(blp, 409, "unit_not_active: the receiving unit is frozen or cancelled")
    @problem_response(blp, 422, "same_unit")
    @blp.doc(security=[{"bearer": []}], parameters=[IDEMPOTENCY_HEADER])
    def post(self, data, key):
        """Pass the receipt on (授信流转): the receiving unit holds an authorization as if a citizen had approved it."""
        from backend.authorizations import transfers

        return transfers.transfer(self.unit, key, data["to_credit_code"])


@blp.route("/own-receipts/<key>/transfers/<transfer_id>")
class OwnReceiptTransfer(UnitView):
    @blp.alt_response(200, schema=TransferSchema, description="revoked", success=True)
    @problem_response(blp, 409, "locked_by_recipient: no longer revocable")
    @blp.doc(security=[{"bearer": []}])
    def delete(self, key, transfer_id):
        """Revoke a transfer, while the receiving unit has not locked the receipt."""
        from backend.authorizations import transfers

        return transfers.revoke(self.unit, key, transfer_id)


@blp.route("/receipts/<key>/layout.pdf")
class UnitLayoutFile(UnitView):
    @blp.doc(security=[{"bearer": []}], responses={"200": {"description": "the signed layout file",
                                                          "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}})
    def get(self, key):
        """A receipt's layout file, for a unit that may see the receipt (the read is logged for the citizen)."""
        from flask import Response

        from backend.verification.layout import signed_layout

        pdf = signed_layout(views.get_receipt(self.unit, key))
        return Response(pdf, mimetype="application/pdf", headers={"Content-Disposition": f'attachment; filename="{key}.pdf"',
                                                                   "Cache-Control": "no-store"})


@blp.route("/receipts/<key>/data-file")
class UnitDataFile(UnitView):
    @blp.doc(security=[{"bearer": []}], responses={"200": {
        "description": "the national data file (DESIGN §11), complete: the issuer's and the finance department's signatures",
        "content": {"application/xml": {"schema": {"type": "string"}}}}})
    @problem_response(blp, 404, "receipt_not_found; data_file_at_issuing_node (a receipt of another province)")
    def get(self, key):
        """A receipt's national data file, for a unit that may see the receipt (the read is logged for the citizen)."""
        from flask import Response

        from backend.receipts.data_files import file_of

        views.get_receipt(self.unit, key)
        return Response(file_of(key), mimetype="application/xml", headers={"Content-Disposition": f'attachment; filename="{key}.xml"',
                                                                         "Cache-Control": "no-store"})


@blp.route("/archive")
class UnitArchive(UnitView):
    @blp.arguments(archives.ArchiveArgsSchema, location="query")
    @problem_response(blp, 422, "archive_range_too_long: more than 366 days; validation_failed: from/to missing, "
                                "not YYYY-MM-DD, or to before from")
    @blp.doc(security=[{"bearer": []}], responses={"200": {
        "description": "a zip: per receipt <key>/receipt.json, layout.pdf, data.xml (the complete national data file; "
                       "none for another province's receipt), signatures.json, timeline.json, ledger.json; "
                       "metadata.xml (DA/T 95-2022), manifest.json and manifest.sha256 (SHA-256 of every file)",
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}}})
    def get(self, args):
        """The electronic archive (电子会计凭证归档) of the receipts this unit reimbursed, as a zip.

        Every receipt with a `reimbursed` ledger entry of this unit dated from `from` to `to` (Beijing
        dates, at most 366 days), streamed one receipt at a time; each read is logged for its citizen."""
        from flask import Response, stream_with_context

        archive = archives.prepare(self.unit, args["date_from"], args["date_to"])
        return Response(stream_with_context(archive.chunks()), mimetype="application/zip", headers={
            "Content-Disposition": f'attachment; filename="{archive.filename}"', "Cache-Control": "no-store"})
