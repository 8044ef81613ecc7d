"""Every fault the real hub can produce ends the checkout in failed-with-reason (or ready after a retry),
never loses the cart, and never spawns a second server."""
import socket
import time

import pytest
import requests
from rest_framework.test import APIClient

from staging.checkout import pipeline
from staging.checkout.services import checkout_retry, checkout_stop
from staging.models import Cart, Checkout
from tests.factories import make_facility, make_user, make_workflow
from tests.launching import eventually, hub_client, launch, notebook_with_cells, server_for, wait_for
from tests.rebinding import fake_rebinding_resolver

pytestmark = [pytest.mark.hub, pytest.mark.django_db(transaction=True)]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def assert_failed_and_cart_restored(checkout: Checkout, *, step: str, code: str, reason: str) -> None:
    assert checkout.state == "failed", checkout.state
    assert (checkout.failed_step, checkout.error_code) == (step, code)
    assert reason in checkout.error_message
    assert checkout.events.last().phase == "failed" and reason in checkout.events.last().message
    cart = Cart.objects.get(user=checkout.user)
    assert cart.frozen_by is None
    assert [i.dataset_id for i in cart.items.all()] == [d["id"] for d in checkout.datasets]


def test_hub_down(launch_env, hub_facility):
    facility = hub_facility(hub_url=f"http://127.0.0.1:{closed_port()}")

    checkout = wait_for(launch(facility=facility))

    assert_failed_and_cart_restored(checkout, step="spawning", code="facility.unavailable",
                                    reason="could not be reached")


def test_spawn_fails_because_the_server_process_exits(launch_env, hub_facility):
    checkout = wait_for(launch(facility=hub_facility(), profile="exits"))

    assert_failed_and_cart_restored(checkout, step="spawning", code="spawn.failed",
                                    reason="exited with status 3 during startup")


def test_spawn_hangs_past_the_facility_deadline(launch_env, hub_facility):
    started = time.monotonic()

    checkout = wait_for(launch(facility=hub_facility(deadline=3), profile="hangs"))

    assert_failed_and_cart_restored(checkout, step="spawning", code="spawn.timeout", reason="within 3 seconds")
    assert time.monotonic() - started < 30
    hub_client(launch_env).stop_server(checkout.hub_username, checkout.server_name)


def test_profile_unknown_to_the_hub(launch_env, hub_facility):
    checkout = wait_for(launch(facility=hub_facility(), profile="gpu-unknown"))

    assert_failed_and_cart_restored(checkout, step="spawning", code="facility.rejected",
                                    reason="Unknown profile 'gpu-unknown'")


def test_portal_token_lacking_a_scope(launch_env, hub_facility):
    checkout = wait_for(launch(facility=hub_facility(token=launch_env.weak_token)))

    assert_failed_and_cart_restored(checkout, step="spawning", code="facility.forbidden",
                                    reason="requires any of")
    assert launch_env.weak_token not in checkout.error_message


def test_kernel_error_in_a_first_cell_leaves_server_and_notebook_to_inspect(launch_env, hub_facility):
    workflow = make_workflow(notebook_with_cells(
        "rows = len(dataset_paths)", "raise RuntimeError(f'cannot calibrate {rows} file(s)')", "print('later')"),
        path="broken.ipynb", first_cells=4)

    checkout = wait_for(launch(facility=hub_facility(), workflow=workflow))

    assert_failed_and_cart_restored(checkout, step="executing", code="notebook.cell_error",
                                    reason="RuntimeError: cannot calibrate 1 file(s)")
    saved = server_for(launch_env, checkout).get_notebook(checkout.remote_path)
    errors = [o for c in saved["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert errors and errors[0]["evalue"] == "cannot calibrate 1 file(s)"
    assert hub_client(launch_env).get_server(checkout.hub_username, checkout.server_name).ready


def test_retry_resumes_from_the_failed_step_once_the_cause_is_fixed(launch_env, hub_facility):
    user = make_user()
    facility = hub_facility(hub_url=f"http://127.0.0.1:{closed_port()}")
    failed = wait_for(launch(user, facility=facility))
    assert_failed_and_cart_restored(failed, step="spawning", code="facility.unavailable",
                                    reason="could not be reached")

    facility.hub_url = launch_env.url
    facility.save()
    api = APIClient()
    api.force_authenticate(user)
    assert api.post(f"/api/checkouts/{failed.pk}/retry/").status_code == 202
    checkout = wait_for(failed)

    assert checkout.state == "ready", checkout.error_message
    after_retry = list(checkout.events.filter(pk__gt=failed.events.get(phase="failed").pk)
                       .values_list("phase", flat=True))
    assert after_retry[0] == "spawning" and "staging" not in after_retry
    assert (checkout.error_code, checkout.error_message) == ("", "")


def test_a_retry_after_the_facility_culled_the_failed_launchs_server_starts_a_new_one(
        launch_env, hub_facility, tmp_path):
    flag = tmp_path / "calibrated.flag"
    workflow = make_workflow(notebook_with_cells(
        f"import os\nassert os.path.exists({str(flag)!r}), 'not calibrated yet'"), path="calib.ipynb", first_cells=3)
    user = make_user()
    failed = wait_for(launch(user, facility=hub_facility(), workflow=workflow))
    assert_failed_and_cart_restored(failed, step="executing", code="notebook.cell_error",
                                    reason="not calibrated yet")
    hub_client(launch_env).stop_server(failed.hub_username, failed.server_name)  # as an idle culler would
    flag.touch()

    checkout_retry(user=user, pk=failed.pk)
    checkout = wait_for(failed)

    assert checkout.state == "ready", checkout.error_message
    after_retry = list(checkout.events.filter(pk__gt=failed.events.get(phase="failed").pk)
                       .values_list("phase", flat=True))
    assert after_retry[0] == "spawning"
    assert hub_client(launch_env).get_server(checkout.hub_username, checkout.server_name).ready
    checkout_stop(user=user, pk=checkout.pk)


@pytest.fixture
def run_here(jupyterhub, settings, monkeypatch):
    """Checkouts run by this process, step by step, against the real hub, with a cell timeout short
    enough for a test (the suite's worker keeps the default of 120 s)."""
    settings.ESAP_ALLOW_PRIVATE_URLS, settings.ESAP_CELL_TIMEOUT_SECONDS = True, 3
    monkeypatch.setattr("staging.tasks.checkout_run.delay", lambda *args: None)
    monkeypatch.setattr("staging.tasks.checkout_announce_end.delay", lambda *args: None)

    def run(checkout: Checkout) -> Checkout:
        pipeline.run(str(checkout.pk))
        checkout.refresh_from_db()
        return checkout
    return run


def test_a_retry_after_a_cell_timed_out_runs_the_cells_on_a_fresh_kernel(jupyterhub, run_here, tmp_path):
    # The cell ignores interrupts, as code stuck in a C call does, so the kernel stays busy after the
    # timeout; reusing that kernel, the retry would wait for an answer that never comes.
    flag = tmp_path / "input.ready"
    workflow = make_workflow(notebook_with_cells(
        "import os, signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        f"if not os.path.exists({str(flag)!r}):\n    time.sleep(600)"), path="stubborn.ipynb", first_cells=3)
    facility = make_facility(hub_url=jupyterhub.url, token=jupyterhub.service_token, profiles=("small",))
    user = make_user()
    failed = run_here(launch(user, facility=facility, workflow=workflow))
    assert_failed_and_cart_restored(failed, step="executing", code="notebook.kernel_timeout",
                                    reason="did not finish within 3 seconds")
    flag.touch()

    checkout = run_here(checkout_retry(user=user, pk=failed.pk))

    assert checkout.state == "ready", checkout.error_message
    assert checkout.kernel_id != failed.kernel_id
    hub_client(jupyterhub).stop_server(checkout.hub_username, checkout.server_name)


def test_a_hub_name_that_rebinds_to_a_private_address_fails_the_launch_naming_the_address(
        jupyterhub, run_here, settings, monkeypatch):
    """The hub URL's check passed (its name answered a public address); the connection's lookup answered
    127.0.0.1, where the real hub listens: DNS rebinding, simulated (see tests/rebinding.py)."""
    port = jupyterhub.url.rsplit(":", 1)[1]
    facility = make_facility(hub_url=f"http://hub.rebind.test:{port}", token=jupyterhub.service_token,
                             profiles=("small",))
    checkout = launch(facility=facility)
    settings.ESAP_ALLOW_PRIVATE_URLS = False
    fake_rebinding_resolver(monkeypatch, "hub.rebind.test")

    failed = run_here(checkout)

    assert_failed_and_cart_restored(failed, step="spawning", code="url.not_allowed",
                                    reason="a connection to its host reached 127.0.0.1")
    assert not hub_client(jupyterhub).user_exists(failed.hub_username)
    api = APIClient()
    api.force_authenticate(failed.user)
    terminal = api.get(f"/api/checkouts/{failed.pk}/events/").json()["terminal"]
    assert (terminal["retryable"], terminal["needs_operator"]) == (True, True)  # not the user's to mend


def test_a_kernel_websocket_that_reaches_a_private_address_fails_the_execute_step_naming_the_address(
        jupyterhub, run_here, settings, monkeypatch):
    """The kernel websocket is opened apart from the hub's REST session and checked on its own. The suite's
    hub listens on 127.0.0.1 only, so the URL check and the REST connections (tested with a rebinding name
    above and in test_hub_access.py) are let through here, as if they had reached a public address; the
    websocket's connection reaches 127.0.0.1, as a rebinding name would make it."""
    facility = make_facility(hub_url=jupyterhub.url, token=jupyterhub.service_token, profiles=("small",))
    checkout = launch(facility=facility)
    settings.ESAP_ALLOW_PRIVATE_URLS = False
    monkeypatch.setattr("staging.checkout.hub_access.check_outbound_url", lambda url, **policy: url)
    monkeypatch.setattr("staging.checkout.hub_access.hub_session", lambda hub_url: requests.Session())

    failed = run_here(checkout)

    assert_failed_and_cart_restored(failed, step="executing", code="url.not_allowed",
                                    reason="a connection to its host reached 127.0.0.1")
    assert repr(jupyterhub.url) in failed.error_message  # named like the REST path's refusal
    hub_client(jupyterhub).stop_server(failed.hub_username, failed.server_name)

def test_a_failure_of_the_facilitys_configuration_says_operators_must_mend_it_and_retry_goes_on_once_they_have(
        launch_env, hub_facility):
    user = make_user()
    facility = hub_facility(token="")
    failed = wait_for(launch(user, facility=facility))
    assert_failed_and_cart_restored(failed, step="spawning", code="facility.no_token", reason="no API token")
    api = APIClient()
    api.force_authenticate(user)
    terminal = api.get(f"/api/checkouts/{failed.pk}/events/").json()["terminal"]
    assert (terminal["retryable"], terminal["needs_operator"]) == (True, True)

    facility.api_token = launch_env.service_token  # the operator enters the token
    facility.save()
    assert api.post(f"/api/checkouts/{failed.pk}/retry/").status_code == 202

    assert wait_for(failed).state == "ready"
    checkout_stop(user=user, pk=failed.pk)


def test_only_a_failed_checkout_can_be_retried(launch_env, hub_facility):
    user = make_user()
    checkout = wait_for(launch(user, facility=hub_facility()))
    api = APIClient()
    api.force_authenticate(user)

    response = api.post(f"/api/checkouts/{checkout.pk}/retry/")

    assert response.status_code == 400 and response.json()["error"] == "checkout.not_retryable"


def test_cancel_while_spawning_gives_the_cart_back_and_stops_the_server(launch_env, hub_facility):
    user = make_user()
    facility = hub_facility(deadline=120)  # nothing else would end this spawn during the test
    checkout = wait_for(launch(user, facility=facility, profile="hangs"), states={"spawning"})
    hub, server_name = hub_client(launch_env), f"esap-{checkout.pk.hex[:12]}"
    eventually(lambda: getattr(hub.get_server(checkout.hub_username, server_name), "pending", None) == "spawn")
    api = APIClient()
    api.force_authenticate(user)

    assert api.post(f"/api/checkouts/{checkout.pk}/cancel/").json()["state"] == "cancelled"

    cart = Cart.objects.get(user=user)
    assert cart.frozen_by is None and cart.items.count() == 1
    # Stopped by the portal, well before the test hub gives up on the hanging server by itself (20 s).
    eventually(lambda: hub.get_server(checkout.hub_username, server_name) is None, timeout=12)
    # The worker's spawn step ends (its server is gone) without moving the cancelled checkout.
    eventually(lambda: Checkout.objects.get(pk=checkout.pk).leased_by == "")
    checkout.refresh_from_db()
    assert checkout.state == "cancelled"


def test_worker_killed_mid_spawn_resumes_without_a_second_server(launch_env, hub_facility, celery_worker):
    checkout = launch(facility=hub_facility())
    wait_for(checkout, states={"spawning"})

    celery_worker.kill()
    celery_worker.restart()
    checkout = wait_for(checkout)

    assert checkout.state == "ready", checkout.error_message
    assert hub_client(launch_env).list_servers(checkout.hub_username) == [checkout.server_name]


def test_another_users_checkout_is_404_everywhere(launch_env, hub_facility, client):
    checkout = wait_for(launch(facility=hub_facility(token="")))
    intruder = make_user()
    api = APIClient()
    api.force_authenticate(intruder)
    client.force_login(intruder)

    assert api.get(f"/api/checkouts/{checkout.pk}/").status_code == 404
    assert api.get(f"/api/checkouts/{checkout.pk}/events/").status_code == 404
    assert api.post(f"/api/checkouts/{checkout.pk}/retry/").status_code == 404
    assert api.post(f"/api/checkouts/{checkout.pk}/cancel/").status_code == 404
    assert client.get(f"/checkouts/{checkout.pk}/").status_code == 404
    assert client.get(f"/checkouts/{checkout.pk}/stream/").status_code == 404
    assert api.get("/api/checkouts/").json()["count"] == 0
    checkout.refresh_from_db()
    assert checkout.state == "failed"
