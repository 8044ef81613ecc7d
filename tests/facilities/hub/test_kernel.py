"""The kernel websocket reaches only addresses its peer policy accepts, checked on the connection itself
before anything is sent on it: the hub's host name is resolved again for the websocket and may answer
differently than at the hub URL's check (DNS rebinding). Without a policy websocket-client connects as it
always did (the rest of tests/facilities/hub)."""
import itertools
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from esap.errors import UserError
from esap.http import check_outbound_url, peer_policy
from facilities.hub import KernelError, ServerClient
from facilities.hub.kernel import KernelConnection, open_checked_socket
from tests.facilities.hub.conftest import SHARED_SERVER, SHARED_USER
from tests.rebinding import fake_rebinding_resolver, listener, received  # noqa: F401  (listener: a fixture)

_notebooks = itertools.count(1)
NOTEBOOK = {"cells": [], "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}


@pytest.mark.parametrize("scheme", ["ws", "wss"])
def test_a_websocket_that_reached_a_private_address_is_closed_before_its_handshake(
        monkeypatch, listener, scheme):
    """For wss:// nothing means no TLS hello either: the address is judged before the TLS handshake."""
    hub_url = f"http://kernel.rebind.test:{listener.getsockname()[1]}"
    lookups = fake_rebinding_resolver(monkeypatch, "kernel.rebind.test")
    check_outbound_url(hub_url, allow_private=False)
    kernel = KernelConnection(hub_url.replace("http", scheme, 1) + "/api/kernels/k/channels", token="secret",
                              session_id="s", peer_policy=peer_policy(hub_url, allow_private=False))

    with pytest.raises(UserError) as refused, kernel:
        pass

    assert refused.value.code == "url.not_allowed" and refused.value.params["url"] == hub_url
    assert "its host reached 127.0.0.1, which is not a public address" in refused.value.message
    assert len(lookups) == 2 and received(listener) == b""


def kernel_model(server: ServerClient, kernel_id: str) -> dict:
    return server.http.request("GET", f"{server.base}/api/kernels/{kernel_id}").json()


def fresh_kernel(running: ServerClient) -> tuple[str, str, dict]:
    """A new kernel's session and kernel ids, and its model once it has stopped changing: until a client
    connects, the server does not even learn that the kernel went idle."""
    path = f"kernel-peer-{next(_notebooks)}.ipynb"
    running.put_notebook(path, NOTEBOOK)
    session_id, kernel_id = running.create_session(path, "python3")
    previous, model, deadline = None, kernel_model(running, kernel_id), time.monotonic() + 30
    while model != previous:
        assert time.monotonic() < deadline, f"the kernel kept changing: {model}"
        time.sleep(1)
        previous, model = model, kernel_model(running, kernel_id)
    return session_id, kernel_id, model


@pytest.mark.hub
def test_a_hub_name_that_rebinds_to_a_private_address_gets_no_kernel_websocket(
        jupyterhub, running, monkeypatch):
    """The hub URL's check passed (its name answered a public address); the websocket's own lookup
    answered 127.0.0.1, where the real hub listens (simulated: see tests/rebinding.py). Had the handshake
    been sent, the kernel would have run the cell and its activity would show it."""
    session_id, kernel_id, before = fresh_kernel(running)
    hub_url = f"http://hub.rebind.test:{jupyterhub.url.rsplit(':', 1)[1]}"
    lookups = fake_rebinding_resolver(monkeypatch, "hub.rebind.test")
    check_outbound_url(hub_url, allow_private=False)
    rebound = ServerClient(hub_url, SHARED_USER, SHARED_SERVER, jupyterhub.service_token,
                           peer_policy=peer_policy(hub_url, allow_private=False))

    with pytest.raises(UserError) as refused:
        rebound.execute(kernel_id, session_id, ["print('reached')"], timeout_per_cell=10)

    assert refused.value.code == "url.not_allowed"
    assert "reached 127.0.0.1, which is not a public address" in refused.value.message
    assert len(lookups) == 2  # the check's and the websocket's: the refusal was not retried
    time.sleep(0.5)  # what a handshake would have set off has had time to show
    assert kernel_model(running, kernel_id) == before


@pytest.mark.hub
def test_a_websocket_whose_peer_is_accepted_runs_the_cells_on_the_socket_opened_for_the_check(
        jupyterhub, running):
    session_id, kernel_id, _ = fresh_kernel(running)
    peers: list[str] = []
    accepting = ServerClient(jupyterhub.url, SHARED_USER, SHARED_SERVER, jupyterhub.service_token,
                             peer_policy=peers.append)

    [result] = accepting.execute(kernel_id, session_id, ["21 * 2"], timeout_per_cell=30)

    assert result.status == "ok" and result.outputs[0]["data"] == {"text/plain": "42"}
    assert peers == ["127.0.0.1"]



@pytest.fixture
def outbound_proxy(monkeypatch, listener):
    """An outbound HTTP proxy (http_proxy, as websocket-client reads it) that records each request line and
    answers 502: the tunnel it was asked for is no concern of the test."""
    lines: list[bytes] = []

    def serve() -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            lines.append(connection.recv(1024).split(b"\r\n", 1)[0])
            connection.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")

    for name in ("no_proxy", "NO_PROXY", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{listener.getsockname()[1]}")
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield lines
    thread.join(timeout=5)


def test_behind_an_outbound_proxy_the_checked_websocket_goes_through_it_as_the_rest_calls_do(outbound_proxy):
    """The hub's REST session reaches the proxy, whose business the final address then is; the websocket
    does the same. Connecting around the proxy would fail where only the proxy may reach out, and the
    proxy's own (often internal) address is no hub address to refuse."""
    refused: list[str] = []
    kernel = KernelConnection("ws://hub.behind-proxy.invalid/api/kernels/k/channels", token="secret",
                              session_id="s", connect_timeout=5, peer_policy=refused.append)

    with pytest.raises(KernelError), kernel:
        pass

    assert outbound_proxy == [b"CONNECT hub.behind-proxy.invalid:80 HTTP/1.1"] and refused == []


def test_a_hub_the_proxy_settings_exempt_is_connected_to_directly_and_checked(outbound_proxy, listener,
                                                                               monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    peers: list[str] = []
    kernel = KernelConnection(f"ws://127.0.0.1:{listener.getsockname()[1]}/api/kernels/k/channels",
                              token="secret", session_id="s", connect_timeout=5, peer_policy=peers.append)

    with pytest.raises(KernelError), kernel:
        pass

    assert outbound_proxy == [b"GET /api/kernels/k/channels?session_id=s HTTP/1.1"] and peers == ["127.0.0.1"]


@pytest.fixture(scope="module")
def localhost_certificate(tmp_path_factory) -> Path:
    """A self-signed certificate (and key) for the name localhost only, made by openssl: its own CA."""
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-keyout",
                    str(folder / "key.pem"), "-out", str(folder / "cert.pem")], check=True, capture_output=True)
    return folder


@pytest.fixture
def tls_listener(localhost_certificate):
    """A TLS server on 127.0.0.1 presenting the localhost certificate; it completes handshakes until closed."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(localhost_certificate / "cert.pem", localhost_certificate / "key.pem")
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            try:
                with context.wrap_socket(connection, server_side=True) as tls:
                    tls.recv(1)
            except OSError:
                pass  # a client that refused the certificate

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    server.close()


def accept_any(address: str) -> None:
    pass


def test_a_checked_wss_connection_verifies_the_certificate_against_the_configured_bundle(
        monkeypatch, localhost_certificate, tls_listener):
    monkeypatch.setenv("WEBSOCKET_CLIENT_CA_BUNDLE", str(localhost_certificate / "cert.pem"))

    with open_checked_socket(f"wss://localhost:{tls_listener}/api/kernels/k/channels", accept_any,
                             timeout=5) as tls:
        subject = dict(pair[0] for pair in tls.getpeercert()["subject"])

    assert isinstance(tls, ssl.SSLSocket) and subject["commonName"] == "localhost"


@pytest.mark.parametrize("host, bundle, reason", [
    ("127.0.0.1", "cert.pem", "IP address mismatch"),  # the certificate names localhost only
    ("localhost", "", "self-signed certificate"),  # not a CA the system trusts
])
def test_a_checked_wss_connection_refuses_a_certificate_it_cannot_verify(
        monkeypatch, localhost_certificate, tls_listener, host, bundle, reason):
    monkeypatch.setenv("WEBSOCKET_CLIENT_CA_BUNDLE", str(localhost_certificate / bundle) if bundle else "")

    with pytest.raises(ssl.SSLCertVerificationError) as refused:
        open_checked_socket(f"wss://{host}:{tls_listener}/api/kernels/k/channels", accept_any, timeout=5)

    assert reason in str(refused.value)
