"""Our JupyterHub client against a real hub: named servers with profiles, spawn progress, scoped tokens,
notebook contents, kernel sessions and execution, and each failure the hub can produce."""
import itertools
import time

import pytest
import requests

from facilities.hub.client import HubClient
from facilities.hub.errors import (
    HubForbidden, HubRequestError, HubUnavailable, SpawnFailed, SpawnTimeout,
)
from facilities.hub.server import ServerClient
from facilities.hub.transport import RetryPolicy, Timeouts

pytestmark = pytest.mark.hub
_names = itertools.count(1)


@pytest.fixture
def hub(jupyterhub) -> HubClient:
    return HubClient(jupyterhub.url, jupyterhub.service_token)


@pytest.fixture
def user(hub) -> str:
    name = f"client-{next(_names)}"
    hub.ensure_user(name)
    return name


@pytest.fixture(scope="module")
def running(jupyterhub):
    """One running server shared by the read-mostly tests of this module."""
    hub = HubClient(jupyterhub.url, jupyterhub.service_token)
    hub.ensure_user("client-shared")
    hub.start_server("client-shared", "nb", {"profile": "small"})
    list(hub.follow_progress("client-shared", "nb", deadline_seconds=60))
    token = hub.mint_server_token("client-shared", "nb")
    yield ServerClient(jupyterhub.url, "client-shared", "nb", token.token)
    hub.stop_server("client-shared", "nb")


NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "id": "c1", "metadata": {}, "outputs": [], "execution_count": None,
         "source": "answer = 21 * 2\nprint('hello from the kernel')"},
        {"cell_type": "code", "id": "c2", "metadata": {}, "outputs": [], "execution_count": None,
         "source": "answer"},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def test_reports_the_hub_version(hub):
    assert hub.info().major >= 5


def test_creating_a_user_twice_is_fine(hub, user):
    hub.ensure_user(user)

    assert hub.user_exists(user) and not hub.user_exists(f"{user}-nobody")


def test_a_named_server_starts_with_its_profile_and_reports_progress_to_ready(hub, user):
    hub.start_server(user, "analysis", {"profile": "medium"}, display_name="My analysis")

    events = list(hub.follow_progress(user, "analysis", deadline_seconds=60))

    assert events[-1].ready and events[-1].url == f"/user/{user}/analysis/"
    assert all(event.message for event in events)
    state = hub.get_server(user, "analysis")
    assert state.ready and state.user_options == {"profile": "medium"}
    assert hub.start_server(user, "analysis", {"profile": "medium"}) == "ready"  # already running = done
    hub.stop_server(user, "analysis")
    assert hub.get_server(user, "analysis") is None


def test_an_unknown_profile_is_refused_with_the_hubs_reason(hub, user):
    with pytest.raises(HubRequestError, match="Unknown profile 'gpu-xxl'") as refused:
        hub.start_server(user, "bad", {"profile": "gpu-xxl"})

    assert refused.value.status == 400


def test_a_server_process_that_dies_at_start_fails_the_spawn_quickly(hub, user):
    started = time.monotonic()
    hub.start_server(user, "dies", {"profile": "exits"})

    with pytest.raises(SpawnFailed, match="exited with status 3"):
        list(hub.follow_progress(user, "dies", deadline_seconds=30))
    assert time.monotonic() - started < 10


def test_a_server_that_never_answers_times_out_at_our_deadline(hub, user):
    hub.start_server(user, "hangs", {"profile": "hangs"})
    started = time.monotonic()

    with pytest.raises(SpawnTimeout) as timed_out:
        list(hub.follow_progress(user, "hangs", deadline_seconds=2))

    assert timed_out.value.seconds == 2 and time.monotonic() - started < 6
    hub.stop_server(user, "hangs")


def test_a_token_without_the_scope_is_forbidden_and_names_the_scope(jupyterhub, user):
    weak = HubClient(jupyterhub.url, jupyterhub.weak_token)

    with pytest.raises(HubForbidden, match=r"start:servers"):
        weak.start_server(user, "nope", {"profile": "small"})


def test_a_hub_that_is_down_is_unavailable_after_capped_retries():
    hub = HubClient("http://127.0.0.1:9", "token", timeouts=Timeouts(connect=0.5, read=1),
                    retry=RetryPolicy(attempts=3, backoff=0.05, cap=0.1))
    started = time.monotonic()

    with pytest.raises(HubUnavailable, match="ConnectionError"):
        hub.info()
    assert time.monotonic() - started < 3


def test_errors_and_reprs_never_show_the_token(jupyterhub):
    hub = HubClient(jupyterhub.url, jupyterhub.service_token)
    weak = HubClient(jupyterhub.url, jupyterhub.weak_token)

    with pytest.raises(HubForbidden) as refused:
        weak.ensure_user("someone")

    assert jupyterhub.weak_token not in str(refused.value)
    assert jupyterhub.service_token not in repr(hub) + repr(hub.http)


def test_a_minted_token_reaches_only_its_own_server_and_is_revoked(jupyterhub, hub, running):
    minted = hub.mint_server_token("client-shared", "nb", expires_in=300)
    own = ServerClient(jupyterhub.url, "client-shared", "nb", minted.token)
    assert isinstance(own.list_sessions(), list)
    assert repr(minted).count("****") == 1 and minted.token not in repr(minted)

    other_hub_api = requests.get(f"{jupyterhub.api_url}/users",
                                 headers={"Authorization": f"token {minted.token}"}, timeout=10)
    assert other_hub_api.status_code == 403

    hub.revoke_token("client-shared", minted.token_id)
    lookup = requests.get(f"{jupyterhub.api_url}/users/client-shared/tokens/{minted.token_id}",
                          headers={"Authorization": f"token {jupyterhub.service_token}"}, timeout=10)
    assert lookup.status_code == 404


def test_a_token_for_one_server_is_refused_by_another_users_server(jupyterhub, hub, user, running):
    hub.start_server(user, "mine", {"profile": "small"})
    list(hub.follow_progress(user, "mine", deadline_seconds=60))
    mine = hub.mint_server_token(user, "mine")

    trespass = ServerClient(jupyterhub.url, "client-shared", "nb", mine.token,
                            retry=RetryPolicy(attempts=1))
    with pytest.raises(HubForbidden):
        trespass.list_sessions()
    hub.stop_server(user, "mine")


def test_upload_open_a_kernel_session_execute_and_write_outputs_back(running):
    running.ensure_directory("esap/deep")
    running.put_notebook("esap/deep/flow.ipynb", NOTEBOOK)
    session = running.create_session("esap/deep/flow.ipynb", "python3")

    results = running.execute(session.kernel_id, session.session_id,
                              [cell["source"] for cell in NOTEBOOK["cells"]], timeout_per_cell=60)

    assert [r.status for r in results] == ["ok", "ok"]
    assert results[0].outputs == [{"output_type": "stream", "name": "stdout", "text": "hello from the kernel\n"}]
    assert results[1].outputs[0]["data"]["text/plain"] == "42"
    notebook = dict(NOTEBOOK, cells=[dict(cell, outputs=r.outputs, execution_count=r.execution_count)
                                     for cell, r in zip(NOTEBOOK["cells"], results)])
    running.put_notebook("esap/deep/flow.ipynb", notebook)
    saved = running.get_notebook("esap/deep/flow.ipynb")
    assert saved["cells"][1]["outputs"][0]["data"]["text/plain"] == "42"
    assert saved["cells"][1]["execution_count"] == results[1].execution_count


def test_a_second_session_for_the_same_path_joins_the_same_kernel(running):
    running.put_notebook("shared.ipynb", NOTEBOOK)
    first = running.create_session("shared.ipynb", "python3")

    second = running.create_session("shared.ipynb", "python3")

    assert second.kernel_id == first.kernel_id
    assert any(s.path == "shared.ipynb" and s.kernel_id == first.kernel_id for s in running.list_sessions())


def test_a_raising_cell_reports_the_error_and_stops_the_run(running):
    running.put_notebook("fails.ipynb", NOTEBOOK)
    session = running.create_session("fails.ipynb", "python3")

    results = running.execute(session.kernel_id, session.session_id,
                              ["x = 1", "raise ValueError('bad input data')", "print('never')"])

    assert [r.status for r in results] == ["ok", "error"]
    assert (results[1].ename, results[1].evalue) == ("ValueError", "bad input data")
    assert results[1].outputs[0]["output_type"] == "error"


def test_a_cell_running_past_its_timeout_is_reported_as_such(running):
    running.put_notebook("slow.ipynb", NOTEBOOK)
    session = running.create_session("slow.ipynb", "python3")

    results = running.execute(session.kernel_id, session.session_id, ["import time; time.sleep(5)"],
                              timeout_per_cell=1)

    assert results[0].status == "timeout"


def test_an_older_hub_gets_the_bare_user_options(hub, user):
    from facilities.hub.client import HubInfo

    hub._info = HubInfo(version="5.3.0")  # as `GET /hub/api/` answers on JupyterHub 5
    hub.start_server(user, "old-style", {"profile": "medium"}, display_name="ignored by old hubs")

    list(hub.follow_progress(user, "old-style", deadline_seconds=60))
    assert hub.get_server(user, "old-style").user_options == {"profile": "medium"}
    hub.stop_server(user, "old-style")


def test_a_hub_answering_503_is_retried_with_backoff_then_unavailable():
    """The hub process dies but its proxy lives on and answers 503 for the hub API."""
    import os
    import signal

    from tests.servers.jupyterhub.localhub import LocalHub

    crashed = LocalHub().start()
    try:
        os.kill(crashed.process.pid, signal.SIGKILL)
        crashed.process.wait(10)
        client = HubClient(crashed.url, crashed.service_token, retry=RetryPolicy(attempts=3, backoff=0.2, cap=1))
        started = time.monotonic()

        with pytest.raises(HubUnavailable) as outage:
            client.info()

        assert outage.value.status == 503
        assert time.monotonic() - started >= 0.2 + 0.4  # two backoffs before giving up
    finally:
        crashed.stop()
