"""Outgoing calls to the official-account API: access token, customer-service text messages
(within 48 hours of the user's last message), one-time subscription notifications (订阅通知,
bizsend) and the custom menu.

Every call ends in one of three ways:
- `Sent`: WeChat accepted it;
- `NotAllowed`: WeChat refused for a reason the caller must handle by another route (outside
  the 48-hour window, user not following, no subscription quota, user refused) — never raised,
  always returned, so it cannot be missed as "sent";
- `SendFailed` raised: network errors, HTTP 5xx/429, errcode -1 (system busy) were retried with
  exponential backoff (3 tries by default) and still failed, or WeChat answered an error that
  retrying cannot fix (bad openid, bad template data, ...).

The access token is cached until 5 minutes before it expires and fetched again once when
WeChat says it is invalid or expired (40001, 40014, 42001). Note that every fetch from
/cgi-bin/token makes the previous token expire within 5 minutes: several processes that each
fetch their own will keep refreshing (harmless here, but it spends the daily token quota).

Neither the app secret nor the access token appears in any exception or log message.
"""
import json
import logging
import threading
import time
from dataclasses import dataclass

import requests

from bots.wechat.errors import SendFailed

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.weixin.qq.com"

TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid credential, invalid token, token expired
SYSTEM_BUSY = -1
NOT_ALLOWED_REASONS = {
    45015: "outside_window",  # response out of time limit: no user message in the last 48 h
    45047: "window_quota",  # over the customer-service messages allowed without a user reply
    43004: "not_following",  # require subscribe: the user does not follow the account
    43101: "subscription_refused",  # user refused / no one-time subscription left
}
TOKEN_MARGIN = 300  # seconds before expires_in at which the cached token is dropped


@dataclass(frozen=True)
class Sent:
    msg_id: str | None = None
    ok = True


@dataclass(frozen=True)
class NotAllowed:
    errcode: int
    errmsg: str
    reason: str  # outside_window | window_quota | not_following | subscription_refused
    ok = False


SendResult = Sent | NotAllowed


class _Retryable(Exception):
    def __init__(self, detail: str, status: int | None = None, errcode: int | None = None, errmsg: str | None = None):
        super().__init__(detail)
        self.detail, self.status, self.errcode, self.errmsg = detail, status, errcode, errmsg


class _TokenRejected(Exception):
    def __init__(self, errcode: int, errmsg: str):
        super().__init__(errcode)
        self.errcode, self.errmsg = errcode, errmsg


class WeChatSender:
    def __init__(self, api_base: str, app_id: str, app_secret: str, http: requests.Session | None = None,
                 clock=time.time, *, sleep=time.sleep, max_tries: int = 3, backoff: float = 0.5,
                 timeout: float | tuple[float, float] = (3.05, 10)):
        if not app_id or not app_secret:
            raise ValueError("WECHAT_APP_ID and WECHAT_APP_SECRET are required to send")
        self.api_base = (api_base or DEFAULT_API_BASE).rstrip("/")
        self.app_id = app_id
        self._secret = app_secret
        self.http = http if http is not None else requests.Session()
        self.clock = clock
        self.sleep = sleep
        self.max_tries = max(1, max_tries)
        self.backoff = backoff
        self.timeout = timeout
        self._token: str | None = None
        self._token_expires = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # the secret and the token stay out of reprs
        return f"WeChatSender(api_base={self.api_base!r}, app_id={self.app_id!r})"

    # -- access token ---------------------------------------------------------------------------

    def access_token(self) -> str:
        """The cached access token, fetched when there is none or it is about to expire."""
        with self._lock:
            if self._token is None or self.clock() >= self._token_expires:
                self._token, self._token_expires = self._fetch_token()
            return self._token

    def invalidate_token(self, token: str | None = None) -> None:
        """Drop the cached token (only if it is still `token`, when given)."""
        with self._lock:
            if token is None or token == self._token:
                self._token, self._token_expires = None, 0.0

    def _fetch_token(self) -> tuple[str, float]:
        body = self._with_retries("token", lambda: self._request(
            "GET", "/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.app_id, "secret": self._secret}))
        token = body.get("access_token")
        if not token:
            errcode = _errcode(body)
            raise SendFailed(f"token fetch refused (errcode {errcode})", errcode=errcode, errmsg=_errmsg(body))
        try:
            expires_in = int(body.get("expires_in") or 7200)
        except (TypeError, ValueError):
            expires_in = 7200
        lifetime = max(expires_in - TOKEN_MARGIN, expires_in // 2)
        log.info("wechat access token fetched (valid %ss)", lifetime)
        return token, self.clock() + lifetime

    # -- transport ------------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, params=None, payload=None) -> dict:
        """One HTTP call → the decoded JSON body. _Retryable for network errors, 5xx/429,
        unreadable bodies and errcode -1; other HTTP errors raise SendFailed."""
        data = None
        headers = None
        if payload is not None:
            # WeChat wants real UTF-8: with \\u escapes some endpoints show them verbatim.
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            headers = {"Content-Type": "application/json; charset=utf-8"}
        try:
            resp = self.http.request(method, self.api_base + path, params=params, data=data,
                                     headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            # str(exc) may contain the URL, with the secret or the token: keep only the type.
            raise _Retryable(f"network error ({type(exc).__name__})") from None
        if resp.status_code >= 500 or resp.status_code == 429:
            raise _Retryable(f"HTTP {resp.status_code}", status=resp.status_code)
        if resp.status_code >= 400:
            raise SendFailed(f"HTTP {resp.status_code} from {path}", status=resp.status_code)
        try:
            body = json.loads(resp.content.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise _Retryable(f"unreadable answer from {path}", status=resp.status_code) from None
        if not isinstance(body, dict):
            raise _Retryable(f"unexpected answer from {path}", status=resp.status_code)
        if _errcode(body) == SYSTEM_BUSY:
            raise _Retryable("system busy (errcode -1)", errcode=SYSTEM_BUSY, errmsg=_errmsg(body))
        return body

    def _with_retries(self, what: str, call):
        last: _Retryable | None = None
        for attempt in range(1, self.max_tries + 1):
            try:
                return call()
            except _Retryable as exc:
                last = exc
                log.warning("wechat %s attempt %d/%d failed: %s", what, attempt, self.max_tries, exc.detail)
                if attempt < self.max_tries:
                    self.sleep(self.backoff * 2 ** (attempt - 1))
        raise SendFailed(f"{what} failed after {self.max_tries} tries: {last.detail}", status=last.status,
                         errcode=last.errcode, errmsg=last.errmsg, retryable=True)

    def _call(self, path: str, payload: dict, *, allow_not_allowed: bool = True) -> SendResult:
        """POST `payload` to `path` with the access token; one token refresh on 40001/40014/42001."""
        refreshed = False
        while True:
            token = self.access_token()
            try:
                body = self._with_retries(path, lambda token=token: self._post_checked(path, token, payload))
            except _TokenRejected as exc:
                if refreshed:
                    raise SendFailed(f"{path}: access token refused again (errcode {exc.errcode})",
                                     errcode=exc.errcode, errmsg=exc.errmsg) from None
                log.info("wechat access token rejected (errcode %s): refreshing", exc.errcode)
                self.invalidate_token(token)
                refreshed = True
                continue
            errcode = _errcode(body)
            if errcode == 0:
                msg_id = body.get("msgid", body.get("msg_id"))
                return Sent(msg_id=str(msg_id) if msg_id is not None else None)
            if errcode in NOT_ALLOWED_REASONS and allow_not_allowed:
                return NotAllowed(errcode=errcode, errmsg=_errmsg(body), reason=NOT_ALLOWED_REASONS[errcode])
            raise SendFailed(f"{path} refused (errcode {errcode})", errcode=errcode, errmsg=_errmsg(body))

    def _post_checked(self, path: str, token: str, payload: dict) -> dict:
        body = self._request("POST", path, params={"access_token": token}, payload=payload)
        if _errcode(body) in TOKEN_ERRORS:
            raise _TokenRejected(_errcode(body), _errmsg(body))
        return body

    # -- API --------------------------------------------------------------------------------------

    def send_text(self, openid: str, text: str) -> SendResult:
        """A customer-service text message (客服消息); NotAllowed outside the 48-hour window."""
        return self._call("/cgi-bin/message/custom/send",
                          {"touser": openid, "msgtype": "text", "text": {"content": text}})

    def send_subscription(self, openid: str, template_id: str, data: dict, page: str | None = None, *,
                          miniprogram: dict | None = None) -> SendResult:
        """A subscription notification (订阅通知, /cgi-bin/message/subscribe/bizsend). `data` maps
        the template's keys (thing1, time2, ...) to values or to {"value": ...}; `page` is the
        link opened from the card; `miniprogram` = {"appid", "pagepath"} opens a mini program
        instead. NotAllowed (43101) when the user has not (or no longer) subscribed."""
        payload = {
            "touser": openid,
            "template_id": template_id,
            "data": {k: (dict(v) if isinstance(v, dict) else {"value": v}) for k, v in data.items()},
        }
        if page:
            payload["page"] = page
        if miniprogram:
            payload["miniprogram"] = dict(miniprogram)
        return self._call("/cgi-bin/message/subscribe/bizsend", payload)

    def create_menu(self, menu: dict) -> None:
        """Replace the custom menu (validated first: ValueError for a menu WeChat would refuse)."""
        validate_menu(menu)
        self._call("/cgi-bin/menu/create", menu, allow_not_allowed=False)


def _errcode(body: dict) -> int:
    try:
        return int(body.get("errcode") or 0)
    except (TypeError, ValueError):
        return SYSTEM_BUSY


def _errmsg(body: dict) -> str:
    return str(body.get("errmsg") or "")


# -- the custom menu -----------------------------------------------------------------------------

MENU_MY_RECEIPTS = "MY_RECEIPTS"
MENU_REIMBURSEMENTS = "REIMBURSEMENT_PROGRESS"
MENU_VERIFY = "VERIFY"
MENU_AUTHORIZATIONS = "MY_AUTHORIZATIONS"
MENU_MESSAGES = "MESSAGES"
MENU_HELP = "HELP"
MINIAPP_URL_PLACEHOLDER = "https://example.invalid/app/"


def default_menu(miniapp_url: str) -> dict:
    """The bot's menu; "打开小程序" opens the citizen mini-app at `miniapp_url` (absolute
    http(s) URL, e.g. PIAOJIA_APP_URL)."""
    return {
        "button": [
            {"type": "click", "name": "我的票据", "key": MENU_MY_RECEIPTS},
            {"type": "click", "name": "报销进度", "key": MENU_REIMBURSEMENTS},
            {
                "name": "更多",
                "sub_button": [
                    {"type": "click", "name": "验真", "key": MENU_VERIFY},
                    {"type": "click", "name": "我的授权", "key": MENU_AUTHORIZATIONS},
                    {"type": "click", "name": "消息", "key": MENU_MESSAGES},
                    {"type": "click", "name": "帮助", "key": MENU_HELP},
                    {"type": "view", "name": "打开小程序", "url": miniapp_url},
                ],
            },
        ]
    }


# With a placeholder URL that create_menu refuses: use default_menu(app_url) to publish it.
DEFAULT_MENU = default_menu(MINIAPP_URL_PLACEHOLDER)


def validate_menu(menu: dict) -> None:
    """ValueError unless `menu` fits WeChat's rules: 1-3 buttons, 1-5 sub-buttons each, names
    of at most 16 bytes (top) / 60 bytes (sub), click keys of at most 128 bytes, view URLs
    absolute http(s) of at most 1024 bytes (and not the placeholder)."""
    buttons = menu.get("button") if isinstance(menu, dict) else None
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise ValueError("a menu has 1 to 3 buttons")
    for button in buttons:
        _check_button(button, max_name=16)
        subs = button.get("sub_button")
        if subs is not None:
            if not isinstance(subs, list) or not 1 <= len(subs) <= 5:
                raise ValueError(f"{button.get('name')!r}: 1 to 5 sub-buttons")
            for sub in subs:
                if "sub_button" in sub:
                    raise ValueError("sub-buttons cannot nest")
                _check_button(sub, max_name=60)
        elif "type" not in button:
            raise ValueError(f"{button.get('name')!r}: a button needs a type or sub-buttons")


def _check_button(button: dict, *, max_name: int) -> None:
    name = button.get("name")
    if not isinstance(name, str) or not name or len(name.encode("utf-8")) > max_name:
        raise ValueError(f"button name {name!r} missing or over {max_name} bytes")
    kind = button.get("type")
    if kind == "click":
        key = button.get("key")
        if not isinstance(key, str) or not key or len(key.encode("utf-8")) > 128:
            raise ValueError(f"{name!r}: a click button needs a key of at most 128 bytes")
    elif kind == "view":
        url = button.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url.encode()) > 1024:
            raise ValueError(f"{name!r}: a view button needs an absolute http(s) URL of at most 1024 bytes")
        if url == MINIAPP_URL_PLACEHOLDER:
            raise ValueError(f"{name!r}: placeholder URL; build the menu with default_menu(app_url)")
