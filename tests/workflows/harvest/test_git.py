"""git fetches over HTTP(S) from the addresses the outbound check vetted, not from wherever the host name
resolves by the time git connects (a name can answer a public address at the check and an internal one a
moment later: DNS rebinding). The pin is git's http.curloptResolve; git:// cannot be pinned."""
from ipaddress import ip_address

import pytest

from tests.servers.git import GitServer
from tests.workflows.git_http import GitHttpServer
from workflows.harvest import git


@pytest.fixture
def repositories():
    """Repositories to serve over HTTP (GitServer's commit helper; its daemon is not started): the pin is
    curl's, so only git's HTTP transport, not the suite's git daemon, can show it."""
    server = GitServer()
    yield server
    server.stop()


def served(repositories: GitServer, host: str) -> tuple[GitHttpServer, str]:
    sha = repositories.commit("pinned", {"crab.ipynb": "{}"})
    return GitHttpServer(repositories.root, host=host), sha


def test_a_pinned_fetch_reaches_the_pinned_address_under_a_name_that_resolves_nowhere(repositories, tmp_path):
    server, sha = served(repositories, "127.0.0.1")
    port = server.server_address[1]
    url = f"http://git.pinned.invalid:{port}/pinned"
    with pytest.raises(git.RepositoryUnreachable, match="resolve host"):
        git.fetch_commit(url, "main", tmp_path / "unpinned")

    fetched = git.fetch_commit(url, "main", tmp_path / "repo",
                               pin=git.Pin(host="git.pinned.invalid", port=port, addresses=("127.0.0.1",)))

    assert fetched == sha and (tmp_path / "repo" / "crab.ipynb").exists()
    server.stop()


def test_the_pinned_address_wins_over_the_one_the_name_resolves_to(repositories, tmp_path):
    server, sha = served(repositories, "127.0.0.2")  # localhost resolves to 127.0.0.1 or ::1, not here
    port = server.server_address[1]
    url = f"http://localhost:{port}/pinned"
    with pytest.raises(git.RepositoryUnreachable):
        git.fetch_commit(url, "main", tmp_path / "unpinned")

    fetched = git.fetch_commit(url, "main", tmp_path / "repo",
                               pin=git.Pin(host="localhost", port=port, addresses=("127.0.0.2",)))

    assert fetched == sha and server.requests
    server.stop()


@pytest.mark.parametrize("url, expected", [
    ("https://git.example.org/repo.git", "git.example.org:443:93.184.216.34,[2001:db8::1]"),
    ("http://git.example.org/repo.git", "git.example.org:80:93.184.216.34,[2001:db8::1]"),
    ("https://Git.Example.org:8443/repo.git", "git.example.org:8443:93.184.216.34,[2001:db8::1]"),
])
def test_an_http_url_is_pinned_to_every_vetted_address_at_its_port(url, expected):
    addresses = [ip_address("93.184.216.34"), ip_address("2001:db8::1")]

    assert git.pin_for(url, addresses).config() == f"http.curloptResolve={expected}"


@pytest.mark.parametrize("url", [
    "git://git.example.org/repo.git",  # git's own transport resolves the name itself: nothing to pin it with
    "https://93.184.216.34/repo.git",  # an address is not resolved again
    "https://[2606:4700::6810:84e5]/repo.git",
])
def test_urls_git_does_not_resolve_through_curl_are_not_pinned(url):
    assert git.pin_for(url, [ip_address("93.184.216.34")]) is None


def test_nothing_is_pinned_when_nothing_was_vetted():
    assert git.pin_for("https://git.example.org/repo.git", []) is None


def test_a_host_name_curl_would_spell_otherwise_is_refused_rather_than_left_unpinned():
    with pytest.raises(git.HostNotPinnable, match="xn--"):
        git.pin_for("https://straße.example.org/repo.git", [ip_address("93.184.216.34")])

