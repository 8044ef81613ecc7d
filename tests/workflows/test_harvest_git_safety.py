"""The harvester's git runs are bounded and cannot be steered: limits stop every git process of a fetch,
redirects are not followed, refs never reach git as options, git over HTTP(S) connects to the addresses
the URL check vetted, and a worker without git says so."""
import os
import time
from pathlib import Path

import pytest

from esap.checks import git_can_pin_addresses, git_is_installed
from tests.rebinding import PUBLIC_ADDRESS, fake_rebinding_resolver
from tests.servers.git import GitServer
from tests.workflows.git_http import GitHttpServer, RedirectingServer, SilentServer, processes_of
from workflows.harvest import git
from workflows.models import Repository
from workflows.services import repository_harvest

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def local_git_allowed(settings):
    settings.ESAP_GIT_ALLOW_PRIVATE_URLS = True


@pytest.fixture
def repositories():
    """Repositories to serve over HTTP (GitServer's commit helper; its daemon is not started)."""
    server = GitServer()
    yield server
    server.stop()


@pytest.fixture
def harvest_folder(monkeypatch, tmp_path) -> Path:
    """Where the harvest's temporary checkout goes, so the test can look for processes working in it."""
    folder = tmp_path / "harvests"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr("tempfile.tempdir", None)
    return folder


def harvest(url: str, ref: str = "main") -> Repository:
    return repository_harvest(repository_id=Repository.objects.create(url=url, ref=ref).pk)


def test_an_http_server_that_never_answers_is_given_up_at_the_time_limit_with_every_git_process(
        settings, harvest_folder):
    settings.ESAP_GIT_TIMEOUT_SECONDS = 2
    silent = SilentServer()
    url = f"{silent.base}/silent.git"
    started = time.monotonic()

    repository = harvest(url)

    assert repository.status == "failed" and "longer than 2 seconds" in repository.last_error
    assert time.monotonic() - started < 6
    assert silent.accepted, "git never reached the server"
    assert processes_of(url, harvest_folder) == []
    silent.stop()


def test_a_slow_transfer_past_the_size_limit_is_stopped_at_the_limit(settings, repositories):
    settings.ESAP_GIT_MAX_BYTES = 1024 * 1024
    repositories.commit("big", {f"data/{i}.bin": os.urandom(64 * 1024) for i in range(128)})  # 8 MiB
    server = GitHttpServer(repositories.root, bytes_per_second=2 * 1024 * 1024, protocol_v2=False)
    started = time.monotonic()

    repository = harvest(f"{server.base}/big")

    assert repository.status == "failed" and "larger than 1048576 bytes" in repository.last_error
    assert server.sent < 4 * 1024 * 1024, f"{server.sent} bytes were sent before the harvest gave up"
    assert time.monotonic() - started < 3
    server.stop()


def test_a_repository_url_that_redirects_to_another_host_is_not_followed(repositories):
    repositories.commit("moved", {"crab.ipynb": "{}"})
    target = GitHttpServer(repositories.root, host="127.0.0.2")
    redirecting = RedirectingServer(target.base)

    repository = harvest(f"{redirecting.base}/moved")

    assert repository.status == "failed"
    assert "redirected" in repository.last_error and "register the final URL" in repository.last_error
    assert redirecting.requests and target.requests == []
    redirecting.stop()
    target.stop()


@pytest.mark.parametrize("ref", ["--upload-pack=touch /tmp/esap-pwned", "-c", "main branch", "main\n",
                                 "tab\there", "bell\x07", "main..evil", "", "a\x00b"])
def test_a_ref_git_could_read_as_an_option_or_a_range_is_refused_before_git_runs(ref, monkeypatch, tmp_path):
    commands: list[list[str]] = []
    real_popen = git.subprocess.Popen
    monkeypatch.setattr(git.subprocess, "Popen", lambda command, **kw: commands.append(command)
                        or real_popen(command, **kw))

    with pytest.raises(git.HarvestError) as refused:
        git.fetch_commit("git://127.0.0.1:9/nothing", ref, tmp_path / "repo")

    assert repr(ref) in str(refused.value)
    assert not any(ref in command for command in commands)


@pytest.mark.parametrize("ref", ["main", "v1.0", "release/2024-06", "refs/heads/feature_x", "0" * 40])
def test_ordinary_branch_tag_and_commit_refs_are_fetched(ref, monkeypatch, tmp_path):
    commands: list[list[str]] = []
    monkeypatch.setattr(git, "_git", lambda args, *rest, **options: commands.append(args) or "0" * 40)

    git.fetch_commit("git://127.0.0.1:9/nothing", ref, tmp_path / "repo")

    fetch = next(command for command in commands if command[0] == "fetch")
    assert fetch[-3:] == ["--", "git://127.0.0.1:9/nothing", ref]


def test_without_git_on_the_worker_the_harvest_fails_saying_so(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(git.HarvestError, match="git is not installed on the worker"):
        git.fetch_commit("git://127.0.0.1:9/nothing", "main", tmp_path / "repo")
    repository = harvest("git://127.0.0.1:9/nothing")

    assert repository.status == "failed" and "git is not installed on the worker" in repository.last_error


def test_the_deployment_check_warns_when_git_is_missing(monkeypatch, tmp_path):
    assert git_is_installed(None) == []

    monkeypatch.setenv("PATH", str(tmp_path))

    assert [warning.id for warning in git_is_installed(None)] == ["esap.W003"]


# -- git is kept on the addresses the URL check vetted -------------------------------------------------------

@pytest.fixture
def public_only(settings):
    settings.ESAP_GIT_ALLOW_PRIVATE_URLS = False
    settings.ESAP_GIT_SCHEMES = ["https", "http", "git"]


@pytest.fixture
def fetches(monkeypatch) -> list[dict]:
    """What the harvest hands git.fetch_commit, recorded instead of fetched (the vetted address is a public
    one, which the test cannot serve)."""
    calls = []

    def fetch_commit(url, ref, destination, limits, pin=None):
        calls.append({"url": url, "pin": pin})
        raise git.RepositoryUnreachable("recorded, not fetched")
    monkeypatch.setattr(git, "fetch_commit", fetch_commit)
    return calls


def test_a_harvest_pins_git_to_the_address_its_url_check_vetted(public_only, fetches, monkeypatch):
    """The name answers a public address at the check and 127.0.0.1 afterwards: DNS rebinding, simulated
    for Python's resolver only (see tests/rebinding.py). git is handed the first answer to connect to."""
    lookups = fake_rebinding_resolver(monkeypatch, "git.rebind.test")

    harvest("https://git.rebind.test/repo.git")

    assert fetches == [{"url": "https://git.rebind.test/repo.git",
                        "pin": git.Pin(host="git.rebind.test", port=443, addresses=(PUBLIC_ADDRESS,))}]
    assert len(lookups) == 1


def test_a_git_protocol_url_is_vetted_but_cannot_be_pinned(public_only, fetches, monkeypatch):
    fake_rebinding_resolver(monkeypatch, "git.rebind.test")

    harvest("git://git.rebind.test/repo.git")

    assert fetches == [{"url": "git://git.rebind.test/repo.git", "pin": None}]


def test_a_harvest_from_a_private_address_is_refused_before_git_runs(public_only, repositories):
    repositories.commit("internal", {"crab.ipynb": "{}"})
    server = GitHttpServer(repositories.root)

    repository = harvest(f"{server.base}/internal")

    assert repository.status == "failed" and "127.0.0.1 is not a public address" in repository.last_error
    assert server.requests == []
    server.stop()


def test_with_private_addresses_allowed_nothing_is_pinned_and_the_harvest_reaches_them(repositories):
    sha = repositories.commit("allowed", {"crab.ipynb": "{}"})
    server = GitHttpServer(repositories.root)

    repository = harvest(f"{server.base}/allowed")

    assert (repository.status, repository.commit_sha) == ("ok", sha)
    server.stop()


def test_a_harvest_runs_no_lfs_filter_the_workers_git_configuration_defines(repositories, monkeypatch, tmp_path):
    """With Git LFS set up for the worker's user (`git lfs install` writes filter.lfs.* into ~/.gitconfig),
    a checkout would run its filter on files the repository marks `filter=lfs`, and git-lfs fetches from
    the LFS server the repository's .lfsconfig names: a host nobody checked. A stand-in filter driver
    named lfs, defined the same way, shows whether git runs it."""
    sha = repositories.commit("with-lfs", {".gitattributes": "*.ipynb filter=lfs\n", "crab.ipynb": "{}"})
    server = GitHttpServer(repositories.root)
    home, ran = tmp_path / "worker-home", tmp_path / "lfs-filter-ran"
    home.mkdir()
    (home / ".gitconfig").write_text(f'[filter "lfs"]\n\tsmudge = "touch {ran}; cat"\n'
                                     f'\tprocess = "touch {ran}; false"\n\trequired = true\n')
    monkeypatch.setenv("HOME", str(home))

    repository = harvest(f"{server.base}/with-lfs")

    assert (repository.status, repository.commit_sha) == ("ok", sha)
    assert not ran.exists(), "git ran the worker's LFS filter"
    server.stop()


def fake_old_git(monkeypatch, version: tuple[int, ...] = (2, 34, 1)) -> None:
    """A git older than 2.37 on the worker, which cannot be installed here: its version, as git says it."""
    monkeypatch.setattr(git, "git_version", lambda: version)


def test_a_git_too_old_to_pin_refuses_a_pinned_fetch_before_any_git_runs(monkeypatch, tmp_path):
    fake_old_git(monkeypatch)
    commands: list[list[str]] = []
    monkeypatch.setattr(git, "_git", lambda args, *rest, **options: commands.append(args) or "0" * 40)
    pin = git.Pin(host="git.example.org", port=443, addresses=(PUBLIC_ADDRESS,))

    with pytest.raises(git.GitTooOld) as refused:
        git.fetch_commit("https://git.example.org/repo.git", "main", tmp_path / "repo", pin=pin)

    assert "git 2.34.1 on the worker cannot be kept on the checked address" in str(refused.value)
    assert "git 2.37 or later" in str(refused.value) and commands == []


def test_a_harvest_on_a_worker_whose_git_cannot_pin_fails_saying_so(public_only, monkeypatch):
    fake_old_git(monkeypatch)
    fake_rebinding_resolver(monkeypatch, "git.rebind.test")

    repository = harvest("https://git.rebind.test/repo.git")

    assert repository.status == "failed" and "upgrade git where the worker runs" in repository.last_error


def test_the_deployment_check_warns_when_git_cannot_pin_harvests(settings, monkeypatch):
    settings.ESAP_GIT_ALLOW_PRIVATE_URLS = False
    assert git_can_pin_addresses(None) == []  # this machine's git

    fake_old_git(monkeypatch)

    assert [warning.id for warning in git_can_pin_addresses(None)] == ["esap.W006"]
    settings.ESAP_GIT_ALLOW_PRIVATE_URLS = True  # nothing is pinned then
    assert git_can_pin_addresses(None) == []
