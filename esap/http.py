"""Outbound-HTTP policy: which URLs the portal may call on a user's or operator's behalf (SSRF guard)."""
import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import SplitResult, urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from esap.errors import UserError

WEB_SCHEMES = frozenset({"http", "https"})


def check_outbound_url(url: str, *, allow_private: bool, schemes: frozenset[str] = WEB_SCHEMES) -> str:
    """Return `url` if the portal may call it, else raise UserError("url.not_allowed").

    Every address the host name resolves to must be public unless the operator allows private ones
    (ESAP_ALLOW_PRIVATE_URLS): loopback, private, link-local (cloud metadata) and reserved ranges are
    the classic SSRF targets.
    """
    parts, port = _split(url)
    if parts.scheme not in schemes:
        raise UserError("url.not_allowed", url=url, detail=f"scheme must be one of {sorted(schemes)}")
    if not parts.hostname:
        raise UserError("url.not_allowed", url=url, detail="it has no host")
    if parts.username or parts.password:
        raise UserError("url.not_allowed", url=url, detail="credentials in URLs are not accepted")
    if allow_private:
        return url
    for address in _resolve(url, parts.hostname, port):
        if not address.is_global or address.is_multicast:
            raise UserError("url.not_allowed", url=url, detail=f"{address} is not a public address")
    return url


def _split(url: str) -> tuple[SplitResult, int | None]:
    """The URL's parts and port; a URL Python cannot parse (an unclosed IPv6 bracket, a port out of range)
    is refused like any other."""
    try:
        parts = urlsplit(url)
        return parts, parts.port
    except ValueError as error:
        raise UserError("url.not_allowed", url=url, detail=f"it is not a valid URL ({error})") from error


def _resolve(url: str, host: str, port: int | None) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise UserError("url.not_allowed", url=url, detail=f"host cannot be resolved ({error})") from error
    return {ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos}


def check_peer_address(address: str, *, allow_private: bool) -> None:
    """Raise UserError("url.not_allowed") if a connection reached an address the policy refuses."""
    if allow_private:
        return
    ip = ipaddress.ip_address(address.split("%")[0])
    if not ip.is_global or ip.is_multicast:
        raise UserError("url.not_allowed", url=address, detail=f"{ip} is not a public address")


PeerPolicy = Callable[[str], object]  # raises if a connection may not go on to this address


class PeerCheckedAdapter(HTTPAdapter):
    """Checks the address each connection actually reached before anything is sent on it. The URL check
    resolves the host name once and the connection resolves it again: a name answering with a public
    address first and an internal one a moment later (DNS rebinding) passes the first check, not this one."""

    def __init__(self, peer_policy: PeerPolicy, **kwargs: Any) -> None:
        self.peer_policy = peer_policy
        super().__init__(**kwargs)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _checked_pool(HTTPConnectionPool, HTTPConnection, self.peer_policy),
            "https": _checked_pool(HTTPSConnectionPool, HTTPSConnection, self.peer_policy),
        }


def _checked_pool(pool: type, connection: type, peer_policy: PeerPolicy) -> type:
    class CheckedConnection(connection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            try:
                peer_policy(sock.getpeername()[0])
            except BaseException:
                sock.close()
                raise
            return sock

    return type(f"Checked{pool.__name__}", (pool,), {"ConnectionCls": CheckedConnection})
