"""Outbound-HTTP policy: which URLs the portal may call on a user's or operator's behalf (SSRF guard)."""
import functools
import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import SplitResult, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from esap.errors import UserError

WEB_SCHEMES = frozenset({"http", "https"})
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def check_outbound_url(url: str, *, allow_private: bool, schemes: frozenset[str] = WEB_SCHEMES) -> str:
    """Return `url` if the portal may call it, else raise UserError("url.not_allowed").

    Every address the host name resolves to must be public unless the operator allows private ones
    (ESAP_ALLOW_PRIVATE_URLS): loopback, private, link-local (cloud metadata) and reserved ranges are
    the classic SSRF targets.
    """
    vetted_addresses(url, allow_private=allow_private, schemes=schemes)
    return url


def vetted_addresses(url: str, *, allow_private: bool,
                     schemes: frozenset[str] = WEB_SCHEMES) -> tuple[IPAddress, ...]:
    """The addresses `url`'s host resolved to, once, each public (as check_outbound_url checks them), for
    a caller that can connect to these and no others: a second resolution could answer differently (DNS
    rebinding). Empty when private addresses are allowed: nothing was resolved, nothing needs pinning."""
    parts, port = _split(url)
    if parts.scheme not in schemes:
        raise UserError("url.not_allowed", url=url, detail=f"scheme must be one of {sorted(schemes)}")
    if not parts.hostname:
        raise UserError("url.not_allowed", url=url, detail="it has no host")
    if parts.username or parts.password:
        raise UserError("url.not_allowed", url=url, detail="credentials in URLs are not accepted")
    if allow_private:
        return ()
    addresses = _resolve(url, parts.hostname, port)
    for address in addresses:
        if not _is_public(address):
            raise UserError("url.not_allowed", url=url, detail=f"{address} is not a public address")
    return tuple(sorted(addresses, key=lambda address: (address.version, int(address))))


def _split(url: str) -> tuple[SplitResult, int | None]:
    """The URL's parts and port; a URL Python cannot parse (an unclosed IPv6 bracket, a port out of range)
    is refused like any other."""
    try:
        parts = urlsplit(url)
        return parts, parts.port
    except ValueError as error:
        raise UserError("url.not_allowed", url=url, detail=f"it is not a valid URL ({error})") from error


def _resolve(url: str, host: str, port: int | None) -> set[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise UserError("url.not_allowed", url=url, detail=f"host cannot be resolved ({error})") from error
    return {ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos}


def _is_public(address: IPAddress) -> bool:
    return address.is_global and not address.is_multicast


def check_peer_address(address: str, *, allow_private: bool, url: str | None = None) -> None:
    """Raise UserError("url.not_allowed") if a connection reached an address the policy refuses; with
    `url`, the error names the URL the connection was for as well."""
    if allow_private:
        return
    ip = ipaddress.ip_address(address.split("%")[0])
    if _is_public(ip):
        return
    if url is None:
        raise UserError("url.not_allowed", url=address, detail=f"{ip} is not a public address")
    raise UserError("url.not_allowed", url=url,
                    detail=f"a connection to its host reached {ip}, which is not a public address")


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


def peer_checked_session(url: str, *, allow_private: bool) -> requests.Session:
    """A session for calls to `url` (and wherever they lead) that vets the address each connection
    reached before sending anything on it, unless private addresses are allowed. The refusal is the
    UserError of check_peer_address, raised as is through requests (it is no connection error)."""
    session = requests.Session()
    if policy := peer_policy(url, allow_private=allow_private):
        adapter = PeerCheckedAdapter(policy)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session


def peer_policy(url: str, *, allow_private: bool) -> PeerPolicy | None:
    """check_peer_address for connections made for `url`; None when private addresses are allowed (there
    is nothing to check)."""
    if allow_private:
        return None
    return functools.partial(check_peer_address, allow_private=False, url=url)
