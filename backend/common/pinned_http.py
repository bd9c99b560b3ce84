"""HTTP requests sent to an address resolved (and checked) beforehand.

Resolving a host name once to check it and again to connect lets DNS answer differently
the second time (DNS rebinding). `post_pinned` connects to the checked address while the
request still names the host: the Host header, TLS SNI and certificate verification all use
the host name from the URL."""
import ipaddress
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter


class _ServerNameAdapter(HTTPAdapter):
    """Presents `server_name` in TLS (SNI) and verifies the certificate for it, whatever
    address the URL names."""

    def __init__(self, server_name: str):
        self._server_name = server_name
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, server_hostname=self._server_name, **kwargs)


def post_pinned(url: str, address: str, **kwargs) -> requests.Response:
    """POSTs to `url`, connecting to `address` (an IP literal) instead of resolving the host."""
    parts = urlsplit(url)
    literal = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    pinned = urlunsplit((parts.scheme, f"{literal}:{parts.port}" if parts.port else literal, parts.path, parts.query, ""))
    headers = {**kwargs.pop("headers", {}), "Host": parts.netloc.rpartition("@")[2]}
    with requests.Session() as session:
        session.mount(f"{parts.scheme}://", _ServerNameAdapter(parts.hostname))
        return session.post(pinned, headers=headers, **kwargs)
