"""Posting a message to the hub (or, from the hub, to a node) and reading the signed answer."""
import logging

import requests
from flask import current_app

from backend.common.errors import DomainError, ServiceUnavailable

log = logging.getLogger(__name__)
CONTENT_TYPE = "application/jose"


class IssuingNodeUnavailable(ServiceUnavailable):
    code = "issuing_node_unavailable"
    title = "开票地节点暂时无法访问，请稍后重试"


class PeerTimedOut(IssuingNodeUnavailable):
    """No answer in time: the peer may still act on the message (the caller compensates)."""


def post(url: str, token: str, *, timeout: float | None = None) -> requests.Response:
    """The peer's HTTP answer; IssuingNodeUnavailable when it cannot be reached in time."""
    timeout = timeout or float(current_app.config["FEDERATION_TIMEOUT_SECONDS"])
    try:
        return requests.post(url.rstrip("/") + "/api/v1/federation/messages", data=token.encode(),
                             headers={"content-type": CONTENT_TYPE}, timeout=(min(2.0, timeout), timeout))
    except requests.Timeout:
        log.warning("federation peer timed out", extra={"url": url})
        raise PeerTimedOut(f"No answer from {url} within {timeout:g} s.")
    except requests.RequestException as exc:
        log.warning("federation peer unreachable", extra={"url": url, "error": type(exc).__name__})
        raise IssuingNodeUnavailable(f"{url} cannot be reached ({type(exc).__name__}).")


def problem_from(resp: requests.Response) -> DomainError:
    """The peer's problem details as a domain error of ours (same status, code and title)."""
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if resp.status_code >= 500 or not body:
        return IssuingNodeUnavailable(f"The peer answered {resp.status_code}.")
    return DomainError(body.get("detail"), code=body.get("code") or "federation_error", title=body.get("title"), status=resp.status_code)
