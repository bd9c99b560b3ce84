"""The two front-ends in a real browser against a live server: the citizen's mini-app
(`/app/`, a 375 px phone with a fake camera) and the unit's counter console (`/console/`).

Chromium is the system's (Debian's `chromium`), driven by the `playwright` package; the
phone's camera is Chromium's fake capture device playing a Y4M video of the unit's QR
code, so the mini-app decodes it with its own scanner. Every main screen is saved to
tests/e2e/screenshots/.

Run alone: pip install playwright==1.65.0 (no `playwright install`: the system Chromium is
used) and `pytest tests/e2e/test_browser.py`.
"""
import re
from datetime import timedelta
from urllib.parse import quote

import pytest

from tests.e2e.browser_support import (
    DESKTOP,
    PHONE,
    LiveServer,
    chromium_path,
    launch,
    scroll_width,
    shot,
    write_blank_y4m,
    write_qr_y4m,
)
from tests.support import ZHANG_SAN_ID, Bot, UnitClient, bearer, citizen_login, receipt_key

sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (pip install playwright==1.65.0)")
if chromium_path() is None:
    pytest.skip("needs Chromium (apt-get install chromium)", allow_module_level=True)

expect = sync_api.expect
expect.set_options(timeout=10_000)

UNIT_NAME = "三亚市医疗保障局"


# --- fixtures -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def live(app):
    """The session's app on a loopback port: what the fixtures commit, the browser sees."""
    with LiveServer(app) as server:
        yield server


@pytest.fixture(scope="module")
def pw():
    with sync_api.sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def desk_browser(pw):
    browser = launch(pw)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def phone_browser(pw, tmp_path_factory):
    """A phone whose camera sees nothing in particular (a grey picture)."""
    browser = launch(pw, camera=write_blank_y4m(tmp_path_factory.mktemp("camera") / "blank.y4m"))
    yield browser
    browser.close()


@pytest.fixture(autouse=True)
def quiet_before_cleanup(app_ctx, live, desk_browser, phone_browser):
    """Set up before the page fixtures, so torn down after them and before app_ctx empties the
    database: every page of the shared browsers closed, then nothing the browser sent still
    inside the live server (else its transaction and the TRUNCATE deadlock, and the next
    test finds this one's rows)."""
    yield
    for browser in (desk_browser, phone_browser):
        for context in browser.contexts:
            context.close()
    live.drain()


@pytest.fixture()
def console(desk_browser, live, app_ctx):
    context = desk_browser.new_context(base_url=live.url, **DESKTOP)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture()
def phone(phone_browser, live, app_ctx):
    context = phone_browser.new_context(base_url=live.url, permissions=["camera"], **PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture()
def hospital(operator):
    return operator.register_hospital()


def issue(hospital, payer_id=ZHANG_SAN_ID, payer_name="张三", **kw) -> dict:
    resp, data = hospital.issue(payer_id=payer_id, payer_name=payer_name, **kw)
    assert resp.status_code == 202, resp.get_data(as_text=True)
    return data


def authorize_via_api(client, unit: UnitClient, keys, handle="zhangsan", reference=None):
    """A citizen approves `keys` for `unit` through the API (setup, not under test)."""
    me = citizen_login(client, handle)
    created = unit.post("/authorization-requests", json={"purpose": "医保零星报销", **({"reference": reference} if reference else {})})
    assert created.status_code == 201, created.json
    scanned = client.post("/api/v1/me/scans", headers=me, json={"qr_text": created.json["qr_text"]})
    assert scanned.status_code == 200, scanned.json
    approved = client.post(f"/api/v1/me/authorization-requests/{scanned.json['id']}/approve", headers=me, json={"receipt_keys": list(keys)})
    assert approved.status_code == 200, approved.json
    return approved.json


# --- page steps -------------------------------------------------------------------------

def tid(page, testid, **attrs):
    selector = f'[data-testid="{testid}"]' + "".join(f'[data-{k.replace("_", "-")}="{v}"]' for k, v in attrs.items())
    return page.locator(selector)


def console_sign_in(page, unit: UnitClient, secret=None):
    page.goto("/console/")
    tid(page, "login-client-id").fill(unit.client_id)
    tid(page, "login-client-secret").fill(secret or unit.client_secret)
    tid(page, "login-submit").click()


def console_show_qr(page, purpose="医保零星报销", reference=None) -> str:
    """Creates an authorization request on the console; returns the QR text shown."""
    tid(page, "request-purpose").select_option(purpose)
    if reference:
        tid(page, "request-reference").fill(reference)
    tid(page, "request-create").click()
    expect(tid(page, "qr-image")).to_be_visible()
    expect(tid(page, "qr-image")).to_have_attribute("src", re.compile(r"^blob:"))
    expect(tid(page, "request-status")).to_have_text("等待市民扫码授权…")
    text = tid(page, "qr-text").text_content()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/q/[A-Za-z0-9_-]{20,64}", text), text
    return text


def phone_sign_in(page, handle="zhangsan", path="/app/#/wallet"):
    page.goto(path)
    citizen = tid(page, "login-citizen", handle=handle)
    citizen.click()


def fits_375(page, screen: str):
    width = scroll_width(page)
    assert width <= 375, f"{screen}: the page is {width} px wide on a 375 px phone"


def unread(page) -> int:
    badge = tid(page, "unread-badge")
    return 0 if badge.is_hidden() else int(badge.text_content())


def assert_data_file_download(page, key):
    """下载数据文件 saves the receipt's complete national data file as `{key}.xml`."""
    with page.expect_download() as saved:
        tid(page, "data-file-download").click()
    assert saved.value.suggested_filename == f"{key}.xml"
    with open(saved.value.path(), "rb") as xml:
        data = xml.read()
    assert data.startswith(b"<?xml")
    assert b"<EInvoice>" in data
    assert b"<SupervisorPartySignature>" in data


# --- 1. the whole journey --------------------------------------------------------------

def test_scan_approve_lock_and_reimburse_live(operator, hospital, console, pw, live, tmp_path):
    r1, r2 = issue(hospital), issue(hospital)
    k1, k2 = receipt_key(r1), receipt_key(r2)
    unit = UnitClient.open(operator, name=UNIT_NAME)

    # The counter signs in and shows a QR code.
    console.goto("/console/")
    expect(tid(console, "login-submit")).to_be_visible()
    shot(console, "console-login")
    console_sign_in(console, unit)
    expect(tid(console, "unit-name")).to_have_text(UNIT_NAME)
    qr_text = console_show_qr(console, reference="LX-2026-0001")
    shot(console, "console-qr")

    # The citizen's phone films that code.
    camera = write_qr_y4m(qr_text, tmp_path / "qr.y4m")
    browser = launch(pw, camera=camera)
    try:
        context = browser.new_context(base_url=live.url, permissions=["camera"], **PHONE)
        context.set_default_timeout(10_000)
        phone = context.new_page()
        phone_sign_in(phone, "zhangsan")
        expect(tid(phone, "receipt-card")).to_have_count(2)
        phone.evaluate("() => { window.pjSamePage = true; }")  # gone if the page ever reloads

        tid(phone, "tab-scan").click()
        # Decoded from the camera: the app opens the confirmation with the unit the server vouches for.
        expect(tid(phone, "scan-confirm")).to_be_visible(timeout=20_000)
        expect(tid(phone, "unit-name")).to_have_text(UNIT_NAME)
        expect(tid(phone, "scan-reference")).to_have_text("LX-2026-0001")
        expect(tid(console, "request-status")).to_have_text("市民已扫码，正在选择要授权的票据…")
        expect(tid(phone, "eligible-receipt")).to_have_count(2)
        expect(tid(phone, "approve-button")).to_be_disabled()
        tid(phone, "eligible-receipt", key=k1).click()
        tid(phone, "eligible-receipt", key=k2).click()
        expect(tid(phone, "selection-summary")).to_have_text("已选 2 张，剩余可报销合计 ¥713.60")
        tid(phone, "approve-button").click()
        expect(tid(phone, "scan-result")).to_have_attribute("data-outcome", "approved")

        # The console sees both receipts without a reload.
        expect(tid(console, "request-status")).to_have_text("市民已授权 2 张票据")
        authorized = tid(console, "authorized-list").locator('[data-testid="authorized-receipt"]')
        expect(authorized).to_have_count(2)
        expect(tid(console, "authorized-receipt", key=k1)).to_contain_text("剩余可报 ¥356.80")
        shot(console, "console-authorized")

        # The phone follows the receipt live on its wallet.
        tid(phone, "tab-wallet").click()
        card = tid(phone, "receipt-card", key=k1)
        expect(card.locator('[data-testid="status"]')).to_have_text("已授权")

        # The counter locks one receipt and reports a partial reimbursement.
        tid(console, "authorized-receipt", key=k1).click()
        expect(tid(console, "receipt-detail")).to_be_visible()
        expect(tid(console, "remaining-amount")).to_have_text("356.80")
        tid(console, "lock-button").click()
        expect(tid(console, "feedback-amount")).to_be_visible()
        expect(card.locator('[data-testid="status"]')).to_have_text("报销中")
        before = unread(phone)
        tid(console, "feedback-outcome").select_option("reimbursed")
        tid(console, "feedback-amount").fill("200.00")
        tid(console, "feedback-reference").fill("LX-2026-0001")
        shot(console, "console-feedback")
        tid(console, "feedback-submit").click()
        expect(tid(console, "remaining-amount")).to_have_text("156.80")
        expect(tid(console, "feedback-result")).to_contain_text("本次报销 ¥200.00")

        # The finance office books it (入账) once, and saves the signed layout file and data file.
        expect(tid(console, "booking-amount")).to_have_value("200.00")
        tid(console, "booking-voucher").fill("记-2026-118")
        tid(console, "booking-submit").click()
        expect(tid(console, "booking-result")).to_contain_text("凭证号 记-2026-118")
        expect(tid(console, "booking-form")).to_have_count(0)
        shot(console, "console-booked")
        with console.expect_download() as saved:
            tid(console, "layout-download").click()
        assert saved.value.suggested_filename == f"{k1}.pdf"
        with open(saved.value.path(), "rb") as pdf:
            assert pdf.read(5) == b"%PDF-"
        assert_data_file_download(console, k1)

        # No reload on the phone: the card turns 部分报销 and a new message comes in.
        expect(card.locator('[data-testid="status"]')).to_have_text("部分报销")
        expect(card).to_contain_text("剩余可报 ¥156.80")
        expect(tid(phone, "unread-badge")).not_to_have_text(str(before))
        assert unread(phone) > before
        tid(phone, "tab-messages").click()
        expect(tid(phone, "message-item", type="receipt.reimbursed")).to_have_count(1)
        expect(tid(phone, "message-item", type="receipt.reimbursed")).to_have_attribute("data-read", "false")
        tid(phone, "message-item", type="receipt.reimbursed").locator('[data-testid="message-open"]').click()
        # receipt.reimbursed names the receipt: opening it shows the receipt, read now.
        expect(tid(phone, "receipt-detail")).to_have_attribute("data-key", k1)
        expect(tid(phone, "receipt-detail").locator('[data-testid="status"]').first).to_have_text("部分报销")
        expect(tid(phone, "remaining-amount")).to_contain_text("156.80")
        assert phone.evaluate("() => window.pjSamePage === true"), "the phone reloaded the page"
        # The receipt's layout file (版式文件), signed by the node, saved from the detail screen.
        with phone.expect_download() as download:
            tid(phone, "layout-download").click()
        assert download.value.suggested_filename == f"{k1}.pdf"
        with open(download.value.path(), "rb") as pdf:
            assert pdf.read(5) == b"%PDF-"
        # And its national data file (数据文件): the XML with both the issuer's and the finance seal.
        assert_data_file_download(phone, k1)
        context.close()
    finally:
        browser.close()


# --- 2. a wrong or expired QR --------------------------------------------------------------

def test_wrong_or_expired_qr_is_refused_in_chinese(operator, hospital, phone, live):
    from sqlalchemy import update

    from backend.authorizations.models import AuthorizationRequest
    from backend.common.models import utcnow
    from backend.extensions import db

    issue(hospital)
    unit = UnitClient.open(operator, name=UNIT_NAME)
    created = unit.post("/authorization-requests", json={"purpose": "医保零星报销"})
    assert created.status_code == 201
    db.session.execute(update(AuthorizationRequest).where(AuthorizationRequest.id == created.json["id"])
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()

    phone_sign_in(phone, "zhangsan", "/app/#/scan")
    expect(tid(phone, "scan-paste-input")).to_be_visible()

    # Not a link of ours at all: refused before anything is sent.
    tid(phone, "scan-paste-input").fill("https://example.com/not-a-receipt-link")
    tid(phone, "scan-paste-submit").click()
    expect(tid(phone, "toast")).to_have_text("无法识别的授权二维码或链接")
    expect(tid(phone, "toast")).to_have_attribute("data-type", "error")

    # Shaped like one, but no such request: the server's title.
    tid(phone, "scan-paste-input").fill(f"{live.url}/q/{'x' * 32}")
    tid(phone, "scan-paste-submit").click()
    expect(tid(phone, "error-title")).to_have_text("无法识别的二维码")
    fits_375(phone, "scan error")

    # An expired code.
    tid(phone, "scan-again").click()
    tid(phone, "scan-paste-input").fill(created.json["qr_text"])
    tid(phone, "scan-paste-submit").click()
    expect(tid(phone, "error-title")).to_have_text("二维码已失效，请让报销单位重新生成")
    expect(tid(phone, "approve-button")).to_have_count(0)
    shot(phone, "miniapp-scan-expired", full_page=False)

    # Nothing was authorized.
    status = unit.get(f"/authorization-requests/{created.json['id']}")
    assert (status.json["status"], status.json["receipt_keys"]) == ("expired", [])
    phone.goto("/app/#/authorizations")
    expect(tid(phone, "empty")).to_contain_text("还没有授权记录")


# --- 3. a decline ----------------------------------------------------------------------------

def test_decline_from_deep_link_shows_on_console(operator, hospital, console, phone):
    issue(hospital)
    unit = UnitClient.open(operator, name=UNIT_NAME)
    console_sign_in(console, unit)
    qr_text = console_show_qr(console, purpose="医保零星报销")

    # The link the /q/ page sends to; not signed in yet, so the app keeps it across the sign-in.
    phone_sign_in(phone, "zhangsan", f"/app/#/scan?qr={quote(qr_text, safe='')}")
    expect(tid(phone, "unit-name")).to_have_text(UNIT_NAME)
    tid(phone, "decline-button").click()
    expect(tid(phone, "scan-result")).to_have_attribute("data-outcome", "declined")
    expect(tid(phone, "scan-result")).to_contain_text("已拒绝授权")

    expect(tid(console, "request-status")).to_have_text("市民已拒绝授权")
    expect(tid(console, "error")).to_have_text("市民已拒绝授权")
    expect(tid(console, "request-retry")).to_be_visible()
    expect(tid(console, "authorized-list").locator('[data-testid="authorized-receipt"]')).to_have_count(0)


# --- 4. a revoke ---------------------------------------------------------------------------

def test_revoke_from_my_authorizations(operator, hospital, phone, client):
    receipt = issue(hospital)
    key = receipt_key(receipt)
    unit = UnitClient.open(operator, name=UNIT_NAME)
    authorize_via_api(client, unit, [key])
    assert unit.get(f"/receipts/{key}").status_code == 200

    phone_sign_in(phone, "zhangsan")
    tid(phone, "link-authorizations").click()
    item = tid(phone, "authorization-item")
    expect(item).to_have_attribute("data-status", "active")
    expect(item.locator('[data-testid="authorization-status"]')).to_have_text("生效中")
    expect(item.locator(f'[data-testid="authorization-receipt"][data-key="{key}"]')).to_contain_text("已授权")

    item.locator('[data-testid="revoke-button"]').click()
    dialog = tid(phone, "revoke-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"撤销对“{UNIT_NAME}”的授权？")
    fits_375(phone, "revoke dialog")
    shot(phone, "miniapp-revoke-dialog", full_page=False)
    # Cancelling changes nothing.
    tid(phone, "revoke-dialog-cancel").click()
    expect(dialog).to_have_count(0)
    expect(item).to_have_attribute("data-status", "active")

    item.locator('[data-testid="revoke-button"]').click()
    tid(phone, "revoke-dialog-confirm").click()
    expect(tid(phone, "toast")).to_have_text("授权已撤销")
    expect(item).to_have_attribute("data-status", "revoked")
    expect(item.locator('[data-testid="authorization-status"]')).to_have_text("已撤销")
    expect(item.locator('[data-testid="revoke-button"]')).to_have_count(0)
    assert unit.get(f"/receipts/{key}").status_code in (403, 404)


# --- 5. an empty wallet ----------------------------------------------------------------------

def test_empty_wallet(phone, app_ctx):
    phone_sign_in(phone, "zhaoliu")
    expect(tid(phone, "empty")).to_contain_text("票夹里还没有票据")
    expect(tid(phone, "wallet-summary")).to_have_text("暂无票据")
    expect(tid(phone, "receipt-card")).to_have_count(0)
    fits_375(phone, "empty wallet")
    shot(phone, "miniapp-wallet-empty", full_page=False)


# --- 6. API problems as their Chinese titles ------------------------------------------------

def test_console_shows_problem_titles(operator, hospital, console, client):
    receipt = issue(hospital)
    key = receipt_key(receipt)
    holder = UnitClient.open(operator, name="中国人寿海南分公司", kind="commercial_insurer")
    other = UnitClient.open(operator, name=UNIT_NAME)
    authorize_via_api(client, holder, [key])
    authorize_via_api(client, other, [key])
    assert holder.lock(key).status_code == 201

    # A wrong secret.
    console_sign_in(console, other, secret="pjs_not-the-secret")
    expect(tid(console, "error")).to_have_text("客户端身份验证失败")
    expect(console.locator("#login-view")).to_be_visible()

    # The receipt another unit holds.
    console_sign_in(console, other)
    expect(tid(console, "unit-name")).to_have_text(UNIT_NAME)
    tid(console, "tab-worklist").click()
    # 已授权待办理 lists only what nobody holds; 全部 shows the one held elsewhere too.
    tid(console, "worklist-status").select_option("all")
    tid(console, "receipt-row", key=key).click()
    expect(tid(console, "lock-state")).to_contain_text("已被中国人寿海南分公司锁定")
    tid(console, "lock-button").click()
    expect(tid(console, "error")).to_have_text("票据已被其他单位锁定")
    expect(tid(console, "feedback-submit")).to_have_count(0)


def test_data_file_of_another_province_shows_where_it_is_kept(operator, hospital, console, phone, client):
    from sqlalchemy import update

    from backend.common.models import utcnow
    from backend.extensions import db
    from backend.receipts.models import Receipt

    receipt = issue(hospital)
    key = receipt_key(receipt)
    unit = UnitClient.open(operator, name=UNIT_NAME)
    authorize_via_api(client, unit, [key])
    # A synced copy of a receipt issued in another province: its node keeps the data file.
    db.session.execute(update(Receipt).where(Receipt.code == receipt["code"], Receipt.number == receipt["number"])
                       .values(synced_at=utcnow()))
    db.session.commit()

    phone_sign_in(phone, "zhangsan", f"/app/#/receipt/{quote(key, safe='')}")
    expect(tid(phone, "receipt-detail")).to_have_attribute("data-key", key)
    tid(phone, "data-file-download").click()
    expect(tid(phone, "toast")).to_have_text("该票据的数据文件由开票地节点保存")
    expect(tid(phone, "toast")).to_have_attribute("data-type", "error")

    console_sign_in(console, unit)
    expect(tid(console, "unit-name")).to_have_text(UNIT_NAME)
    tid(console, "tab-worklist").click()
    tid(console, "receipt-row", key=key).click()
    expect(tid(console, "receipt-detail")).to_be_visible()
    tid(console, "data-file-download").click()
    expect(tid(console, "error")).to_have_text("该票据的数据文件由开票地节点保存")


# --- 7. every main screen at 375 px ------------------------------------------------------

def test_every_screen_fits_a_375px_phone(operator, hospital, phone, client):
    partial, authorized = issue(hospital), issue(hospital)
    issue(hospital)  # a third, untouched
    social = UnitClient.open(operator, name=UNIT_NAME)
    insurer = UnitClient.open(operator, name="中国人寿海南分公司", kind="commercial_insurer")
    authorize_via_api(client, social, [receipt_key(partial)], reference="LX-2026-0002")
    lock = social.lock(receipt_key(partial))
    assert lock.status_code == 201
    assert social.feedback(receipt_key(partial), lock.json["lock_token"], amount="200.00", reference="LX-2026-0002").status_code == 201
    authorize_via_api(client, insurer, [receipt_key(authorized)])
    pending = insurer.post("/authorization-requests", json={"purpose": "商业保险理赔", "reference": "PA-88", "amount_cap": "1000.00"})
    assert pending.status_code == 201

    def screen(name, ready):
        expect(ready).to_be_visible()
        fits_375(phone, name)
        shot(phone, f"miniapp-{name}", full_page=False)

    phone.goto("/app/#/login")
    screen("login", tid(phone, "login-citizen", handle="zhangsan"))
    tid(phone, "login-citizen", handle="zhangsan").click()
    expect(tid(phone, "receipt-card")).to_have_count(3)
    expect(tid(phone, "receipt-card", key=receipt_key(partial)).locator('[data-testid="status"]')).to_have_text("部分报销")
    screen("wallet", tid(phone, "list-end"))

    tid(phone, "receipt-card", key=receipt_key(partial)).click()
    screen("detail", tid(phone, "ledger-entry").first)

    tid(phone, "tab-scan").click()
    screen("scan", tid(phone, "scan-paste-input"))
    expect(tid(phone, "scan-status")).to_have_text("将二维码放入框内，即可自动识别")

    phone.goto(f"/app/#/scan?qr={quote(pending.json['qr_text'], safe='')}")
    expect(tid(phone, "unit-name")).to_have_text("中国人寿海南分公司")
    expect(tid(phone, "scan-amount-cap")).to_have_text("¥1,000.00")
    tid(phone, "select-all").check()
    screen("scan-confirm", tid(phone, "approve-button"))

    phone.goto("/app/#/authorizations")
    expect(tid(phone, "authorization-item")).to_have_count(2)
    screen("authorizations", tid(phone, "authorization-list"))

    phone.goto("/app/#/claims")
    expect(tid(phone, "claim-row", key=receipt_key(partial))).to_have_attribute("data-status", "reimbursed")
    expect(tid(phone, "claim-row", key=receipt_key(partial)).locator('[data-testid="claim-amount"]')).to_have_text("报销金额 ¥200.00")
    screen("claims", tid(phone, "claim-list"))

    tid(phone, "tab-messages").click()
    expect(tid(phone, "message-item", type="receipt.reimbursed")).to_have_count(1)
    screen("messages", tid(phone, "message-list"))

    tid(phone, "tab-assistant").click()
    expect(tid(phone, "chat-chip")).to_have_count(6)
    screen("assistant", tid(phone, "chat-input"))

    tid(phone, "tab-me").click()
    expect(tid(phone, "profile-name")).to_have_text("张三")
    expect(tid(phone, "profile-id-number")).to_have_text("460***********1234")
    screen("me", tid(phone, "logout-everywhere-button"))
    expect(tid(phone, "bindings-empty")).to_have_text("尚未绑定微信公众号")
    tid(phone, "binding-code-button").click()
    expect(tid(phone, "binding-code")).to_have_text(re.compile(r"^[0-9]{6}$"))
    screen("me-binding-code", tid(phone, "binding-instruction"))


def test_receipt_detail_shows_how_often_and_by_which_units_it_was_checked(operator, hospital, phone, client):
    sent = issue(hospital)
    key = receipt_key(sent)
    social = UnitClient.open(operator, name=UNIT_NAME)
    item = {k: sent[k] for k in ("code", "number", "check_code", "total_amount")}
    for _ in range(2):
        assert social.post("/receipts/verify", json={"items": [item]}).json["items"][0]["authentic"]
    assert client.post("/api/v1/verify", json={**item, "issue_date": sent["issue_date"]}).json["check_count"] == 3
    phone_sign_in(phone, path=f"/app/#/receipt/{key}")
    count = tid(phone, "verification").locator('[data-field="check-count"] dd')
    expect(count).to_have_text(re.compile(r"^3 次，最近 \d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}（北京时间）$"))
    expect(tid(phone, "verification").locator('[data-field="check-units"] dd')).to_have_text(f"{UNIT_NAME} 2 次")
    fits_375(phone, "detail with check counts")
    tid(phone, "verification").scroll_into_view_if_needed()
    shot(phone, "miniapp-detail-check-counts", full_page=False)


# --- 8. the 助手 tab: the web chat with the real bot ---------------------------------------------

def last_answer(page):
    return tid(page, "chat-message", role="assistant").last


def test_web_chat_answers_with_the_bot(operator, hospital, phone, live, client):
    """The bot as the web process serves it (/bot/, calling the API over HTTP with the
    citizen's own token): a question typed, one from a chip, answered in Chinese."""
    assert live.bot_skip_reason is None and live.bot_error is None, (live.bot_skip_reason, live.bot_error)
    r1, _ = issue(hospital), issue(hospital)
    unit = UnitClient.open(operator, name=UNIT_NAME)
    authorize_via_api(client, unit, [receipt_key(r1)], reference="LX-2026-0003")
    lock = unit.lock(receipt_key(r1))
    assert lock.status_code == 201, lock.json
    assert unit.feedback(receipt_key(r1), lock.json["lock_token"], amount="200.00").status_code == 201

    phone_sign_in(phone, "zhangsan")
    expect(tid(phone, "receipt-card")).to_have_count(2)
    tid(phone, "tab-assistant").click()
    expect(tid(phone, "chat-message", kind="welcome")).to_be_visible()
    expect(tid(phone, "chat-send")).to_be_disabled()

    # Typed: 报销进度 lists the unit's reimbursement.
    tid(phone, "chat-input").fill("报销进度")
    tid(phone, "chat-send").click()
    expect(tid(phone, "chat-message", role="user").last).to_have_text(re.compile("报销进度"))
    expect(tid(phone, "chat-message", role="assistant")).to_have_count(2, timeout=20_000)
    expect(last_answer(phone)).to_contain_text(UNIT_NAME)
    expect(last_answer(phone)).to_contain_text("¥")
    expect(tid(phone, "chat-input")).to_have_value("")

    # A chip: 我的票据 lists both receipts of the hospital with their amounts.
    tid(phone, "chat-chip").filter(has_text="我的票据").click()
    expect(tid(phone, "chat-message", role="user").last).to_have_text(re.compile("我的票据"))
    expect(tid(phone, "chat-message", role="assistant")).to_have_count(3, timeout=20_000)
    expect(last_answer(phone)).to_contain_text("三亚中心医院")
    expect(last_answer(phone)).to_contain_text(re.compile(r"¥\d[\d,]*\.\d\d"))
    expect(tid(phone, "chat-message", kind="error")).to_have_count(0)
    # The reply keeps its lines.
    assert "\n" in last_answer(phone).locator(".pj-chat__text").inner_text()
    fits_375(phone, "assistant with answers")
    shot(phone, "miniapp-assistant-chat", full_page=False)

    # The bot's link (an absolute URL of the mini-app) opens the screen inside the app.
    phone.evaluate("() => { window.pjSamePage = true; }")
    claims_link = tid(phone, "chat-message", role="assistant").nth(1).locator('[data-testid="chat-link"]').first
    expect(claims_link).to_have_attribute("data-href", "#/claims")
    claims_link.click()
    expect(tid(phone, "claim-row", key=receipt_key(r1))).to_have_attribute("data-status", "reimbursed")
    assert phone.evaluate("() => window.pjSamePage === true"), "the link reloaded the page"


# --- 9. the 助手 tab against a stand-in bot: links, errors, a refreshed token ---------------------

def stand_in_bot(app, receipt_key_value):
    """A /bot/chat that answers by the contract of the real one (reply, links; problems as
    {title, code}) and checks the Bearer token against the API, like the bot does."""
    from flask import Flask, jsonify, request

    bot = Flask("stand_in_bot")
    bot.config["tokens"] = []
    bot.config["refuse_next"] = False

    @bot.post("/chat")
    def chat():
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        bot.config["tokens"].append(token)
        if bot.config["refuse_next"]:
            bot.config["refuse_next"] = False
            return jsonify(title="登录已过期", code="token_expired"), 401
        me = app.test_client().get("/api/v1/me", headers=bearer(token))
        if me.status_code != 200:
            return jsonify(title=me.json["title"], code=me.json.get("code")), me.status_code
        message = (request.get_json(silent=True) or {}).get("message", "")
        if message == "出错":
            return jsonify(title="票夹服务暂时无法访问，请稍后再试", code="api_unreachable"), 502
        if message == "链接":
            return jsonify(reply=f"{me.json['name']}，您的票据：\n1. 三亚中心医院 ¥356.80\n<b>不是标记</b>", text="", links=[
                {"label": "查看票据详情", "url": f"/app/#/receipt/{receipt_key_value}"},
                {"label": "打开票夹", "url": "https://piaojia.example.cn/app/#/wallet"},
                {"label": "这张票据", "url": f"https://piaojia.example.cn/anywhere#/receipt/{receipt_key_value}"},
                {"label": "报销指南", "url": "https://example.com/guide"},
                {"label": "坏链接", "url": "javascript:alert(1)"},
            ])
        return jsonify(reply=f"收到：{message}", links=[], text=f"收到：{message}")

    return bot


def test_web_chat_links_errors_and_token_refresh(hospital, phone_browser, app, app_ctx):
    receipt = issue(hospital)
    key = receipt_key(receipt)
    bot = stand_in_bot(app, key)
    with LiveServer(app, bot=bot.wsgi_app) as server:
        context = phone_browser.new_context(base_url=server.url, **PHONE)
        context.set_default_timeout(10_000)
        page = context.new_page()
        try:
            phone_sign_in(page, "zhangsan", "/app/#/assistant")
            expect(tid(page, "chat-message", kind="welcome")).to_be_visible()

            # Links: in-app ones go by the hash, others open outside, a javascript: one is inert.
            tid(page, "chat-input").fill("链接")
            tid(page, "chat-input").press("Enter")
            answer = tid(page, "chat-message", role="assistant").nth(1)
            expect(answer).to_contain_text("张三，您的票据：")
            expect(answer).to_contain_text("<b>不是标记</b>")  # text, not markup
            assert answer.locator("b").count() == 0
            assert answer.locator(".pj-chat__text").inner_text().split("\n")[1] == "1. 三亚中心医院 ¥356.80"
            assert answer.locator(".pj-chat__text").evaluate("(el) => getComputedStyle(el).whiteSpace") == "pre-line"
            links = answer.locator('[data-testid="chat-link"]')
            expect(links).to_have_count(4)
            assert [links.nth(i).get_attribute("data-href") for i in range(3)] == [f"#/receipt/{key}", "#/wallet", f"#/receipt/{key}"]
            assert links.nth(3).get_attribute("href") == "https://example.com/guide"
            assert links.nth(3).get_attribute("rel") == "noopener noreferrer"
            expect(answer.locator(".pj-chat__link--inert")).to_have_text("坏链接")
            fits_375(page, "assistant with links")
            shot(page, "miniapp-assistant-links", full_page=False)
            page.evaluate("() => { window.pjSamePage = true; }")
            links.nth(0).click()
            expect(tid(page, "receipt-detail")).to_have_attribute("data-key", key)

            # Back on 助手: the conversation is still there (memory), and kept out of storage.
            tid(page, "tab-assistant").click()
            expect(tid(page, "chat-message")).to_have_count(3)
            assert page.evaluate("() => window.pjSamePage === true")
            stored = page.evaluate("() => JSON.stringify(sessionStorage) + JSON.stringify(localStorage)")
            assert "三亚中心医院" not in stored and "链接" not in stored

            # A problem: its Chinese title as a muted assistant bubble.
            tid(page, "chat-chip").first.wait_for()
            tid(page, "chat-input").fill("出错")
            tid(page, "chat-send").click()
            error = tid(page, "chat-message", role="assistant", kind="error")
            expect(error).to_have_text(re.compile("票夹服务暂时无法访问，请稍后再试"))
            expect(error).to_have_class(re.compile("pj-chat__bubble--muted"))

            # A 401: the token is refreshed once and the question asked again.
            bot.config["refuse_next"] = True
            tid(page, "chat-chip").filter(has_text="帮助").click()
            expect(tid(page, "chat-message", role="assistant").last).to_have_text(re.compile("收到：帮助"))
            tokens = bot.config["tokens"]
            assert tokens[-1] != tokens[-2], "the retry did not use a refreshed token"
            expect(tid(page, "chat-message", role="user")).to_have_count(3)

            # A reload forgets the conversation (memory only) but not the sign-in.
            page.reload()
            expect(tid(page, "chat-message", kind="welcome")).to_be_visible()
            expect(tid(page, "chat-message")).to_have_count(1)
        finally:
            context.close()


# --- 10. 我的: binding the WeChat official account, unbinding, signing out everywhere ----------

def test_bind_wechat_then_unbind(phone, client):
    bot = Bot(client)
    phone_sign_in(phone, "zhangsan", "/app/#/me")
    expect(tid(phone, "profile-name")).to_have_text("张三")
    expect(tid(phone, "bindings-empty")).to_have_text("尚未绑定微信公众号")

    tid(phone, "binding-code-button").click()
    code_box = tid(phone, "binding-code")
    expect(code_box).to_have_text(re.compile(r"^[0-9]{6}$"))
    code = code_box.text_content()
    expect(tid(phone, "binding-instruction")).to_have_text(f"在「票夹」公众号发送：绑定 {code}（5分钟内有效）")
    expect(tid(phone, "binding-code-countdown")).to_have_text(re.compile(r"^0[45]:[0-5][0-9]$"))
    fits_375(phone, "binding code")
    shot(phone, "miniapp-me-binding", full_page=False)

    # The citizen sends the code to the official account; the bot redeems it; 我的 notices.
    bound = bot.redeem(code, "oPjTestOpenId7a2f")
    assert bound.status_code == 201, bound.json
    item = tid(phone, "binding-item", id=bound.json["binding_id"])
    expect(item).to_be_visible(timeout=15_000)
    expect(tid(phone, "toast")).to_have_text("微信公众号绑定成功")
    expect(tid(phone, "binding-code-status")).to_contain_text("绑定成功")
    expect(item.locator('[data-testid="binding-channel"]')).to_have_text("微信")
    expect(item.locator('[data-testid="binding-account"]')).to_have_text("********7a2f")
    expect(item.locator('[data-testid="binding-quota"]')).to_have_text("订阅消息剩余 0 条")
    assert "oPjTestOpenId" not in phone.content()
    fits_375(phone, "bound account")
    item.scroll_into_view_if_needed()
    shot(phone, "miniapp-me-bound", full_page=False)

    # 解绑 after a confirmation: the bot's delegated token ends.
    item.locator('[data-testid="unbind-button"]').click()
    expect(tid(phone, "unbind-dialog")).to_contain_text("********7a2f")
    tid(phone, "unbind-dialog-cancel").click()
    expect(item).to_be_visible()
    item.locator('[data-testid="unbind-button"]').click()
    tid(phone, "unbind-dialog-confirm").click()
    expect(tid(phone, "toast")).to_have_text("已解除绑定")
    expect(tid(phone, "binding-item")).to_have_count(0)
    expect(tid(phone, "bindings-empty")).to_be_visible()
    assert client.get("/api/v1/me/receipts", headers=bearer(bound.json["access_token"])).status_code == 401


def test_sign_out_everywhere(phone, client):
    # Another sign-in (another phone) and a bound WeChat account.
    assertion = client.post("/api/v1/demo/assertion", json={"citizen": "zhangsan"}).json["assertion"]
    other = client.post("/api/v1/auth/citizen", json={"assertion": assertion}).json
    bound = Bot(client).bind(bearer(other["access_token"]), "oPjOtherOpenId9c3d")

    phone_sign_in(phone, "zhangsan", "/app/#/me")
    expect(tid(phone, "binding-item")).to_have_count(1)
    # 登录设备: this phone, the other sign-in and the WeChat binding; the other phone signed out from here.
    expect(tid(phone, "session-item")).to_have_count(3)
    expect(phone.locator('[data-testid="session-item"][data-current="true"]')).to_have_count(1)
    other_phone = phone.locator('[data-testid="session-item"][data-kind="app"][data-current="false"]')
    other_phone.locator('[data-testid="session-end"]').click()
    tid(phone, "session-end-dialog-confirm").click()
    expect(tid(phone, "session-item")).to_have_count(2)
    assert client.get("/api/v1/me", headers=bearer(other["access_token"])).status_code == 401
    fits_375(phone, "sessions")
    tid(phone, "logout-everywhere-button").click()
    dialog = tid(phone, "logout-everywhere-dialog")
    expect(dialog).to_contain_text("所有")
    tid(phone, "logout-everywhere-dialog-cancel").click()
    expect(dialog).to_have_count(0)
    expect(tid(phone, "profile-name")).to_be_visible()

    tid(phone, "logout-everywhere-button").click()
    tid(phone, "logout-everywhere-dialog-confirm").click()
    expect(tid(phone, "login-citizen", handle="zhangsan")).to_be_visible()
    expect(tid(phone, "toast")).to_have_text("已退出所有设备")
    assert phone.evaluate("() => sessionStorage.getItem('piaojia.tokens')") is None
    # The WeChat account is signed out too (the other sign-in already was, above).
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]}).status_code == 401
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": bound["refresh_token"]}).status_code == 401
    assert client.get("/api/v1/me/receipts", headers=bearer(bound["access_token"])).status_code == 401
