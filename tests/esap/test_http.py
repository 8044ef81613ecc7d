"""The outbound-URL policy refuses SSRF targets unless the operator allows private addresses."""
import pytest

from esap.errors import UserError
from esap.http import check_outbound_url
from tests.rebinding import listener, received  # noqa: F401  (listener: a fixture)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8081/hub/api",
    "http://localhost/",
    "http://[::1]/",
    "http://10.0.0.5/",
    "http://192.168.1.1/",
    "http://172.16.0.1/",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://0.0.0.0/",
    "http://2130706433/",  # 127.0.0.1 as a decimal integer
])
def test_private_and_loopback_targets_are_refused(url):
    with pytest.raises(UserError) as refused:
        check_outbound_url(url, allow_private=False)

    assert refused.value.code == "url.not_allowed"
    assert "not a public address" in refused.value.message


@pytest.mark.parametrize("url, reason", [
    ("file:///etc/passwd", "scheme"),
    ("gopher://example.org/", "scheme"),
    ("ftp://example.org/", "scheme"),
    ("http:///nohost", "no host"),
    ("http://user:secret@example.org/", "credentials"),
])
def test_other_schemes_hostless_and_credentialed_urls_are_refused(url, reason):
    with pytest.raises(UserError) as refused:
        check_outbound_url(url, allow_private=True)

    assert reason in refused.value.message


@pytest.mark.parametrize("url", ["http://example.org:99999/", "http://[::1", "http://example.org:port/"])
@pytest.mark.parametrize("allow_private", [False, True])
def test_a_url_python_cannot_parse_is_refused_not_an_error(url, allow_private):
    with pytest.raises(UserError) as refused:
        check_outbound_url(url, allow_private=allow_private)

    assert refused.value.code == "url.not_allowed" and "not a valid URL" in refused.value.message


def test_unresolvable_host_is_refused_with_the_reason():
    with pytest.raises(UserError, match="cannot be resolved"):
        check_outbound_url("https://no-such-host.invalid/", allow_private=False)


def test_private_targets_pass_when_the_operator_allows_them():
    assert check_outbound_url("http://127.0.0.1:8081/", allow_private=True) == "http://127.0.0.1:8081/"


@pytest.mark.parametrize("address, refused", [
    ("127.0.0.1", True), ("169.254.169.254", True), ("10.1.2.3", True), ("::1", True), ("fe80::1%eth0", True),
    ("224.0.0.1", True), ("93.184.216.34", False), ("2606:4700::6810:84e5", False),
])
def test_the_address_a_connection_reached_is_judged_like_a_resolved_host(address, refused):
    from esap.http import check_peer_address

    if refused:
        with pytest.raises(UserError, match="is not a public address"):
            check_peer_address(address, allow_private=False)
    else:
        check_peer_address(address, allow_private=False)
    check_peer_address(address, allow_private=True)  # the operator allowed private addresses


# -- the addresses vetted, for a caller to connect to and nowhere else ---------------------------------------

def test_the_vetted_addresses_are_those_the_host_resolved_to_at_the_check(monkeypatch):
    from esap.http import vetted_addresses
    from tests.rebinding import PUBLIC_ADDRESS, fake_rebinding_resolver

    fake_rebinding_resolver(monkeypatch, "repo.rebind.test")

    assert [str(a) for a in vetted_addresses("https://repo.rebind.test/x.git", allow_private=False)] == [
        PUBLIC_ADDRESS]


def test_nothing_is_resolved_or_vetted_when_the_operator_allows_private_addresses():
    from esap.http import vetted_addresses

    assert vetted_addresses("https://no-such-host.invalid/", allow_private=True) == ()


@pytest.mark.parametrize("url, reason", [("http://127.0.0.1/", "not a public address"),
                                         ("ftp://example.org/", "scheme")])
def test_vetting_refuses_what_the_url_check_refuses(url, reason):
    from esap.http import vetted_addresses

    with pytest.raises(UserError, match=reason):
        vetted_addresses(url, allow_private=False)


# -- a session that checks where each connection landed ---------------------------------------------------

def test_a_connection_that_reached_a_private_address_is_refused_before_anything_is_sent(
        monkeypatch, listener):
    """The URL check passed (the name first answered a public address); the connection's own lookup
    answered 127.0.0.1, as after DNS rebinding (simulated: see tests/rebinding.py)."""
    from esap.http import check_outbound_url, peer_checked_session
    from tests.rebinding import fake_rebinding_resolver

    url = f"http://svc.rebind.test:{listener.getsockname()[1]}/"
    asked = fake_rebinding_resolver(monkeypatch, "svc.rebind.test")
    check_outbound_url(url, allow_private=False)

    with pytest.raises(UserError) as refused:
        peer_checked_session(url, allow_private=False).get(url, timeout=2)

    assert refused.value.code == "url.not_allowed" and refused.value.params["url"] == url
    assert "a connection to its host reached 127.0.0.1, which is not a public address" in str(refused.value)
    assert len(asked) == 2 and received(listener) == b""


def test_a_session_for_an_operator_who_allows_private_addresses_reaches_them(listener):
    import threading

    from esap.http import peer_checked_session

    def answer() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(1024)
            connection.sendall(b"HTTP/1.0 204 No Content\r\n\r\n")
    threading.Thread(target=answer, daemon=True).start()

    response = peer_checked_session("http://127.0.0.1/", allow_private=True).get(
        f"http://127.0.0.1:{listener.getsockname()[1]}/", timeout=2)

    assert response.status_code == 204
