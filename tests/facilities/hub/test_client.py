"""HubClient against a real JupyterHub 6: users, named servers with profiles, spawn progress, scoped
tokens, and each failure the hub can produce (fault profiles of tests/servers/jupyterhub/spawner.py)."""
import os
import signal
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from facilities.hub import (
    HubClient,
    HubForbidden,
    HubInfo,
    HubRequestError,
    HubUnavailable,
    RetryPolicy,
    ServerClient,
    SpawnFailed,
    SpawnTimeout,
    Timeouts,
)
from tests.facilities.hub.conftest import SHARED_SERVER, SHARED_USER, RecordingSession
from tests.servers.jupyterhub.localhub import LocalHub

pytestmark = pytest.mark.hub


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def whoami(hub: LocalHub, token: str) -> int:
    return requests.get(f"{hub.api_url}/user", headers={"Authorization": f"token {token}"},
                        timeout=10).status_code


# -- the happy path ---------------------------------------------------------------------------------

def test_reports_the_hub_version(hub):
    info = hub.info()

    assert info.version.startswith("6.") and info.major == 6


def test_creating_a_user_twice_is_fine(hub, user):
    hub.ensure_user(user)

    assert hub.user_exists(user) and not hub.user_exists(f"{user}-nobody")


def test_a_named_server_starts_with_its_profile_reports_progress_to_ready_and_is_gone_once_stopped(
        jupyterhub, user):
    session = RecordingSession()
    hub = HubClient(jupyterhub.url, jupyterhub.service_token, session=session)

    assert hub.start_server(user, "analysis", {"profile": "medium"}, display_name="My analysis") in {
        "ready", "pending"}
    events = list(hub.follow_progress(user, "analysis", deadline_seconds=60))

    assert session.sent[-2].body == {"user_options": {"profile": "medium"}, "display_name": "My analysis"}
    assert events[-1].ready and events[-1].progress == 100 and events[-1].url == f"/user/{user}/analysis/"
    assert all(event.message and not event.failed for event in events)
    server = hub.get_server(user, "analysis")
    assert server.ready and server.pending is None and server.user_options == {"profile": "medium"}

    hub.stop_server(user, "analysis")
    assert hub.get_server(user, "analysis") is None
    with pytest.raises(SpawnFailed, match="stopped or never started"):
        list(hub.follow_progress(user, "analysis", deadline_seconds=5))


@pytest.mark.parametrize(("title", "shown"), [
    ("x" * 99 + " yz", "x" * 99),  # cut at 100 characters, where a space fell
    ("  Light  curves\tof the\nCrab  ", "Light curves of the Crab"),
    ("Soft\u00adhyphen, zero\u200dwidth joiner", "Softhyphen, zerowidth joiner"),
    ("\u200b\u2060", "titled"),  # nothing printable left: the server's own name
], ids=["space-at-the-cut", "whitespace", "format-characters", "nothing-printable"])
def test_any_title_becomes_a_display_name_the_hub_accepts(hub, user, title, shown):
    hub.start_server(user, "titled", {"profile": "small"}, display_name=title)

    assert hub.get_server(user, "titled").display_name == shown
    hub.stop_server(user, "titled")


def test_starting_a_server_that_is_already_running_counts_as_done(hub, running):
    assert hub.start_server(SHARED_USER, SHARED_SERVER, {"profile": "small"}) == "ready"

    assert [event.ready for event in hub.follow_progress(SHARED_USER, SHARED_SERVER, 10)] == [True]


def test_the_active_users_are_listed_with_their_servers_page_by_page(jupyterhub, hub, user, running):
    idle = f"{user}-idle"
    hub.ensure_user(idle)
    hub.start_server(user, "listed", {"profile": "small"})
    list(hub.follow_progress(user, "listed", deadline_seconds=60))
    session = RecordingSession()

    active = HubClient(jupyterhub.url, jupyterhub.service_token, session=session).active_servers(page_size=1)

    assert active[user] == {"listed"} and active[SHARED_USER] == {SHARED_SERVER}
    assert idle not in active
    assert len(session.sent) == len(active) >= 2  # one user per page, every page read
    hub.stop_server(user, "listed")


def test_an_older_hub_is_sent_the_bare_user_options(jupyterhub, user):
    session = RecordingSession()
    hub = HubClient(jupyterhub.url, jupyterhub.service_token, session=session)
    hub._info = HubInfo(version="5.3.0")  # what `GET /hub/api/` answers on JupyterHub 5

    # Refusing the profile shows that the hub read the bare body as user_options.
    with pytest.raises(HubRequestError, match="Unknown profile 'gpu-old'"):
        hub.start_server(user, "old-style", {"profile": "gpu-old"}, display_name="ignored by old hubs")

    assert session.sent[-1].body == {"profile": "gpu-old"}


# -- tokens -----------------------------------------------------------------------------------------

def test_a_minted_token_reaches_its_own_server_only_and_stops_working_once_revoked(
        jupyterhub, hub, user, running):
    minted = hub.mint_server_token(SHARED_USER, SHARED_SERVER, expires_in=300)
    token_id, token = minted

    assert isinstance(ServerClient(jupyterhub.url, SHARED_USER, SHARED_SERVER, token).list_sessions(), list)
    with pytest.raises(HubForbidden):
        HubClient(jupyterhub.url, token).ensure_user("intruder")  # hub admin API
    assert whoami(jupyterhub, token) == 200
    assert token not in repr(minted)

    hub.revoke_token(SHARED_USER, token_id)

    assert whoami(jupyterhub, token) == 403


def test_a_token_for_another_users_server_is_refused(jupyterhub, hub, user, running):
    _, elsewhere = hub.mint_server_token(user, "elsewhere")
    trespass = ServerClient(jupyterhub.url, SHARED_USER, SHARED_SERVER, elsewhere,
                            retry=RetryPolicy(attempts=1))

    with pytest.raises(HubForbidden) as refused:
        trespass.list_sessions()

    assert refused.value.status == 403


def test_errors_and_reprs_never_show_a_token(jupyterhub, hub):
    weak = HubClient(jupyterhub.url, jupyterhub.weak_token)

    with pytest.raises(HubForbidden) as refused:
        weak.ensure_user("someone")

    shown = str(refused.value) + repr(refused.value) + repr(hub) + repr(hub.http) + repr(weak.http)
    assert jupyterhub.weak_token not in shown and jupyterhub.service_token not in shown


# -- failures ---------------------------------------------------------------------------------------

def test_an_unknown_profile_is_refused_with_the_hubs_reason(hub, user):
    with pytest.raises(HubRequestError) as refused:
        hub.start_server(user, "bad", {"profile": "gpu-xxl"})

    assert (refused.value.status, refused.value.code) == (400, "hub.rejected")
    assert refused.value.hub_message == "Unknown profile 'gpu-xxl'"


def test_fault_a_server_process_that_exits_at_start_fails_the_spawn_quickly(hub, user):
    started = time.monotonic()
    hub.start_server(user, "dies", {"profile": "exits"})

    with pytest.raises(SpawnFailed, match="exited with status 3 during startup") as failed:
        list(hub.follow_progress(user, "dies", deadline_seconds=30))

    assert failed.value.code == "hub.spawn_failed"
    assert time.monotonic() - started < 10
    assert hub.get_server(user, "dies") is None


def test_fault_a_server_that_never_answers_times_out_at_our_deadline(hub, user):
    hub.start_server(user, "hangs", {"profile": "hangs"})
    started = time.monotonic()

    try:
        with pytest.raises(SpawnTimeout) as timed_out:
            list(hub.follow_progress(user, "hangs", deadline_seconds=3))
        waited = time.monotonic() - started
    finally:
        hub.stop_server(user, "hangs")

    assert timed_out.value.seconds == 3 and 3 <= waited < 8
    assert hub.get_server(user, "hangs") is None


def test_fault_a_token_without_the_scope_is_forbidden_at_once_and_names_the_scope(jupyterhub, user):
    session = RecordingSession()
    weak = HubClient(jupyterhub.url, jupyterhub.weak_token, retry=RetryPolicy(attempts=4, backoff=5),
                     session=session)

    with pytest.raises(HubForbidden, match=r"requires any of \[start:servers\]") as refused:
        weak.start_server(user, "nope", {"profile": "small"})

    assert refused.value.code == "hub.forbidden"
    assert [sent.status for sent in session.sent] == [200, 403]  # version (read:hub), one refused start


def test_fault_a_hub_that_is_down_is_unavailable_after_capped_retries():
    session = RecordingSession()
    hub = HubClient(f"http://127.0.0.1:{closed_port()}", "token", timeouts=Timeouts(connect=0.5, read=1),
                    retry=RetryPolicy(attempts=3, backoff=0.05, cap=0.1), session=session)
    started = time.monotonic()

    with pytest.raises(HubUnavailable, match="ConnectionError") as outage:
        hub.info()

    assert outage.value.code == "hub.unavailable" and session.attempts == 3
    assert time.monotonic() - started < 2


def test_fault_a_crashed_hub_whose_proxy_answers_503_is_retried_with_backoff_then_unavailable():
    crashed = LocalHub().start()
    try:
        os.kill(crashed.process.pid, signal.SIGKILL)  # the proxy lives on and answers for the hub
        crashed.process.wait(10)
        session = RecordingSession()
        client = HubClient(crashed.url, crashed.service_token, session=session,
                           retry=RetryPolicy(attempts=3, backoff=0.2, cap=1))
        started = time.monotonic()

        with pytest.raises(HubUnavailable) as outage:
            client.info()

        assert outage.value.status == 503 and [sent.status for sent in session.sent] == [503] * 3
        assert time.monotonic() - started >= 0.2 + 0.4  # two backoffs before giving up
    finally:
        crashed.stop()


# -- a hub whose start answers wait for the spawn (slow_spawn_timeout) and allows one spawn at a time --

@pytest.fixture(scope="module")
def blocking_hub() -> Iterator[LocalHub]:
    hub = LocalHub(slow_spawn_timeout=2, concurrent_spawn_limit=1, http_timeout=10).start()
    yield hub
    hub.stop()


def test_fault_a_spawn_failing_while_the_start_waits_is_spawn_failed_and_not_retried(blocking_hub):
    session = RecordingSession()
    hub = HubClient(blocking_hub.url, blocking_hub.service_token, session=session)
    hub.ensure_user("early")

    with pytest.raises(SpawnFailed, match="exited with status 3 during startup") as failed:
        hub.start_server("early", "dies", {"profile": "exits"})

    assert failed.value.status == 500
    assert [sent.status for sent in session.sent if sent.path.endswith("/servers/dies")] == [500]


def test_fault_too_many_spawns_at_once_is_retried_after_the_capped_retry_after_then_unavailable(
        blocking_hub):
    session = RecordingSession()
    hub = HubClient(blocking_hub.url, blocking_hub.service_token, session=session,
                    retry=RetryPolicy(attempts=2, backoff=0.01, cap=0.5))
    hub.ensure_user("first")
    hub.ensure_user("second")
    assert hub.start_server("first", "slow", {"profile": "hangs"}) == "pending"  # holds the one slot
    started = time.monotonic()

    try:
        with pytest.raises(HubUnavailable, match="Too many users") as busy:
            hub.start_server("second", "nb", {"profile": "small"})
        waited = time.monotonic() - started
    finally:
        hub.stop_server("first", "slow")

    assert busy.value.status == 429
    assert [sent.status for sent in session.sent if sent.path.endswith("/second/servers/nb")] == [429, 429]
    assert 0.5 <= waited < 3  # the hub's Retry-After (about a minute), capped at 0.5 s; not 0.01 s
