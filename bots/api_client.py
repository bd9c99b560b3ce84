"""The bot's only way into Piaojia: its HTTP API (the bot never imports backend code).

`BotApi` acts with the bot's own client credentials (redeem binding codes, unbind, report
subscription grants); `CitizenApi` with one citizen's delegated chat-scope token, refreshed
when it expires. Problems come back as `ApiError(status, code, title)`.
"""
import threading
import time

import requests

from bots.core.errors import ApiError


class _Http:
    def __init__(self, base_url: str, timeout: float = 4.0, session: requests.Session | None = None):
        self.base = base_url.rstrip("/") + "/api/v1"
        self.timeout = timeout
        self.http = session or requests.Session()

    def call(self, method: str, path: str, token: str | None = None, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            resp = self.http.request(method, self.base + path, headers=headers, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ApiError(503, "api_unreachable", "票夹服务暂时无法访问，请稍后再试") from exc
        if resp.status_code >= 400:
            try:
                body = resp.json()
            except ValueError:
                body = {}
            raise ApiError(resp.status_code, body.get("code") or "error", body.get("title") or "请求失败，请稍后再试")
        return resp.json() if resp.content else None


class BotApi:
    def __init__(self, base_url: str, client_id: str, client_secret: str, **kwargs):
        self.http = _Http(base_url, **kwargs)
        self.client_id, self.client_secret = client_id, client_secret
        self._token, self._expires = None, 0.0
        self._lock = threading.Lock()

    def _bearer(self) -> str:
        with self._lock:
            if self._token is None or time.time() > self._expires - 60:
                answer = self.http.call("POST", "/oauth/token", data={
                    "grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret})
                self._token, self._expires = answer["access_token"], time.time() + answer["expires_in"]
            return self._token

    def redeem(self, code: str, channel: str, external_id: str) -> dict:
        return self.http.call("POST", "/chat/bindings", self._bearer(), json={"code": code, "channel": channel, "external_id": external_id})

    def unbind(self, binding_id: str) -> None:
        self.http.call("DELETE", f"/chat/bindings/{binding_id}", self._bearer())

    def grant(self, binding_id: str, messages: int) -> dict:
        return self.http.call("POST", f"/chat/bindings/{binding_id}/subscriptions", self._bearer(), json={"messages": messages})


class CitizenApi:
    """One citizen, through a delegated token (or, for the web chat, the citizen's own)."""

    def __init__(self, base_url: str, access_token: str, refresh_token: str | None = None, on_refresh=None,
                 binding_id: str | None = None, bot: BotApi | None = None, **kwargs):
        self.http = _Http(base_url, **kwargs)
        self.access_token, self.refresh_token = access_token, refresh_token
        self.on_refresh, self.binding_id, self.bot = on_refresh, binding_id, bot

    def _call(self, method: str, path: str, **kwargs):
        try:
            return self.http.call(method, path, self.access_token, **kwargs)
        except ApiError as exc:
            if exc.status != 401 or exc.code != "token_expired" or not self.refresh_token:
                raise
        pair = self.http.call("POST", "/auth/refresh", json={"refresh_token": self.refresh_token})
        self.access_token, self.refresh_token = pair["access_token"], pair["refresh_token"]
        if self.on_refresh:
            self.on_refresh(pair)
        return self.http.call(method, path, self.access_token, **kwargs)

    def receipts(self, *, q=None, status=None, province=None, issuer=None, date_from=None, date_to=None, limit=20) -> dict:
        params = {k: v for k, v in dict(q=q, status=status, province=province, issuer=issuer, date_from=date_from,
                                         date_to=date_to, limit=limit).items() if v is not None}
        return self._call("GET", "/me/receipts", params=params)

    def receipt(self, key: str) -> dict:
        return self._call("GET", f"/me/receipts/{key}")

    def claims(self) -> dict:
        return self._call("GET", "/me/claims")

    def authorizations(self) -> dict:
        return self._call("GET", "/me/authorizations")

    def revoke(self, authorization_id: str) -> dict:
        return self._call("DELETE", f"/me/authorizations/{authorization_id}")

    def notifications(self, *, unread=False, limit=10) -> dict:
        return self._call("GET", "/me/notifications", params={"unread": "true" if unread else "false", "limit": limit})

    def mark_read(self, ids=None, all_=False) -> dict:
        return self._call("POST", "/me/notifications/read", json={"ids": list(ids or []), "all": bool(all_)})

    def verify(self, *, code, number, check_code, issue_date, total_amount) -> dict:
        return self.http.call("POST", "/verify", json={"code": code, "number": number, "check_code": check_code,
                                                       "issue_date": issue_date, "total_amount": total_amount})

    def push_settings(self) -> dict:
        bindings = self._call("GET", "/me/chat-bindings").get("items") or []
        mine = next((b for b in bindings if b["id"] == self.binding_id), None)
        return {"enabled": bool(mine and mine["active"]), "quota_remaining": (mine or {}).get("quota_remaining", 0)}

    def unbind(self) -> None:
        if self.bot is None or not self.binding_id:  # the web chat and the terminal act as the citizen: nothing to unbind
            raise ApiError(409, "not_bound", "这里不是绑定的聊天账号；解除微信绑定请在小程序「我的」页面操作")
        self.bot.unbind(self.binding_id)
