"""The outbound-URL policy refuses SSRF targets unless the operator allows private addresses."""
import pytest

from esap.errors import UserError
from esap.http import check_outbound_url


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
