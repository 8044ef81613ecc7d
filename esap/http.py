"""Outbound-HTTP policy: which URLs the portal may call on a user's or operator's behalf (SSRF guard)."""
import ipaddress
import socket
from urllib.parse import urlsplit

from esap.errors import UserError

WEB_SCHEMES = frozenset({"http", "https"})


def check_outbound_url(url: str, *, allow_private: bool, schemes: frozenset[str] = WEB_SCHEMES) -> str:
    """Return `url` if the portal may call it, else raise UserError("url.not_allowed").

    Every address the host name resolves to must be public unless the operator allows private ones
    (ESAP_ALLOW_PRIVATE_URLS): loopback, private, link-local (cloud metadata) and reserved ranges are
    the classic SSRF targets.
    """
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        raise UserError("url.not_allowed", url=url, detail=f"scheme must be one of {sorted(schemes)}")
    if not parts.hostname:
        raise UserError("url.not_allowed", url=url, detail="it has no host")
    if parts.username or parts.password:
        raise UserError("url.not_allowed", url=url, detail="credentials in URLs are not accepted")
    if allow_private:
        return url
    for address in _resolve(url, parts.hostname, parts.port):
        if not address.is_global or address.is_multicast:
            raise UserError("url.not_allowed", url=url, detail=f"{address} is not a public address")
    return url


def _resolve(url: str, host: str, port: int | None) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise UserError("url.not_allowed", url=url, detail=f"host cannot be resolved ({error})") from error
    return {ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos}
