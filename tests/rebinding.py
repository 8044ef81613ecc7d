"""A stand-in for DNS rebinding: a host name that answers the portal's URL check with a public address and
every later lookup (the connection's) with an internal one, as a hostile DNS server does. No DNS server
the system resolver would ask can be run on these machines, so this replaces Python's resolver
(socket.getaddrinfo) for that one name; a subprocess such as git is not fooled by it."""
import socket

import pytest

PUBLIC_ADDRESS = "93.184.216.34"  # public, and never connected to: only the check sees it


def fake_rebinding_resolver(monkeypatch: pytest.MonkeyPatch, host: str, *, first: str = PUBLIC_ADDRESS,
                            then: str = "127.0.0.1") -> list[str]:
    """From now on `host` resolves to `first` once, then to `then`. Returns the list of lookups of `host`
    made so far (one entry each), to count them."""
    real, asked = socket.getaddrinfo, []

    def getaddrinfo(name, port, *args, **kwargs):
        if name != host:
            return real(name, port, *args, **kwargs)
        asked.append(name)
        return real(first if len(asked) == 1 else then, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.fixture
def listener():
    """A bare listening socket on 127.0.0.1: connections complete in its backlog, so a test can see
    whether anything was sent on them (`received`)."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        sock.settimeout(2)
        yield sock


def received(listener: socket.socket) -> bytes:
    """What the first connection to `listener` sent before it was closed: b"" for nothing."""
    connection, _ = listener.accept()
    with connection:
        return connection.recv(1024)
