"""A ready launch keeps its server running on the facility until the user ends it. Stopping it frees the
facility's resources and a place under the hub's limit of servers per user; the notebook stays. The hub
is the suite's real one: users named limited-* may run a single named server there."""
import pytest
from django.test import Client
from rest_framework.test import APIClient

from facilities.models import Facility
from staging.checkout import machine
from staging.checkout.services import checkout_retry, checkout_start, checkout_stop
from staging.checkout.states import State
from tests.factories import make_user
from tests.launching import eventually, fill_cart, hub_client, launch, wait_for

pytestmark = [pytest.mark.hub, pytest.mark.django_db(transaction=True)]


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def server_gone(hub, checkout) -> bool:
    return hub_client(hub).get_server(checkout.hub_username, checkout.server_name) is None


def stop_messages(checkout) -> list[tuple[bool, str]]:
    return [(e.data["server_stopped"], e.message) for e in checkout.events.filter(data__has_key="server_stopped")]


def test_stopping_a_ready_launch_stops_its_server_and_keeps_the_notebook(launch_env, hub_facility):
    user = make_user()
    checkout = wait_for(launch(user, facility=hub_facility()))
    assert checkout.state == "ready", checkout.error_message
    launched_at = checkout.finished_at

    response = api_for(user).post(f"/api/checkouts/{checkout.pk}/stop/")

    assert (response.status_code, response.json()["state"]) == (202, "stopped")
    eventually(lambda: server_gone(launch_env, checkout))
    eventually(lambda: stop_messages(checkout) == [
        (True, f"Server {checkout.server_name} stopped on {checkout.facility_slug}.")])
    checkout.refresh_from_db()
    assert checkout.finished_at == launched_at  # when the launch ended, not when its server did
    notebook = launch_env.state_dir / "home" / checkout.hub_username / checkout.remote_path
    assert notebook.is_file()
    assert api_for(user).get(f"/api/checkouts/{checkout.pk}/events/").json()["terminal"]["event"] == "stopped"


def test_only_a_ready_launch_can_be_stopped_and_only_by_its_owner(launch_env, hub_facility):
    user = make_user()
    failed = wait_for(launch(user, facility=hub_facility(), profile="exits"))
    assert failed.state == "failed"

    refused = api_for(user).post(f"/api/checkouts/{failed.pk}/stop/")
    hidden = api_for(make_user()).post(f"/api/checkouts/{failed.pk}/stop/")

    assert refused.status_code == 400
    assert "Only a ready launch has a server to stop (this one is failed)" in str(refused.json())
    assert hidden.status_code == 404
    failed.refresh_from_db()
    assert failed.state == "failed"


def test_the_hubs_server_limit_fails_the_spawn_with_what_to_do_and_stopping_another_launch_lets_a_retry_through(
        launch_env, hub_facility):
    facility = hub_facility()
    user = make_user("limited-lea")
    first = wait_for(launch(user, facility=facility))
    assert first.state == "ready", first.error_message

    fill_cart(user, facility=facility)
    second = wait_for(checkout_start(user=user))

    assert (second.state, second.failed_step, second.error_code) == ("failed", "spawning", "spawn.server_limit")
    assert second.error_message.startswith("The facility lets you have at most 1 server(s) at once. Under Your "
                                           "launches, stop a launch you no longer need")

    checkout_stop(user=user, pk=first.pk)
    eventually(lambda: server_gone(launch_env, first))
    assert wait_for(checkout_retry(user=user, pk=second.pk)).state == "ready"


def test_at_the_hubs_limit_the_stopped_servers_of_ended_launches_are_removed_and_the_launch_goes_on(
        launch_env, hub_facility):
    facility, user = hub_facility(), make_user("limited-tom")
    ended = wait_for(launch(user, facility=facility))
    hub = hub_client(launch_env)
    hub.stop_server(ended.hub_username, ended.server_name, remove=False)  # culled: stopped, still known
    # Ended without the portal removing that server (before it removed what it found culled, say).
    machine.transition(ended.pk, source=State.READY, target=State.STOPPED, message="Stopped by the facility.")

    checkout = wait_for(launch(user, facility=facility))

    assert checkout.state == "ready", checkout.error_message
    assert not hub.server_known(ended.hub_username, ended.server_name)
    checkout_stop(user=user, pk=checkout.pk)


def test_a_stop_the_hub_could_not_take_is_reported_and_can_be_asked_again(launch_env, hub_facility):
    user = make_user()
    facility = hub_facility()
    checkout = wait_for(launch(user, facility=facility))
    assert checkout.state == "ready", checkout.error_message
    hub_url = facility.hub_url
    Facility.objects.filter(pk=facility.pk).update(hub_url="http://127.0.0.1:9")  # nothing listens there

    checkout_stop(user=user, pk=checkout.pk)
    eventually(lambda: len(stop_messages(checkout)) == 1)
    page = Client()
    page.force_login(user)

    [(stopped, message)] = stop_messages(checkout)
    assert not stopped and message.startswith("The server could not be stopped: The facility's JupyterHub could "
                                              "not be reached")
    assert not server_gone(launch_env, checkout)
    assert "Try stopping the server again" in page.get(f"/checkouts/{checkout.pk}/").content.decode()

    Facility.objects.filter(pk=facility.pk).update(hub_url=hub_url)
    checkout_stop(user=user, pk=checkout.pk)

    eventually(lambda: server_gone(launch_env, checkout))
    eventually(lambda: [s for s, _ in stop_messages(checkout)] == [False, True])
    assert "Try stopping the server again" not in page.get(f"/checkouts/{checkout.pk}/").content.decode()


def test_a_server_already_gone_counts_as_stopped(launch_env, hub_facility):
    user = make_user()
    checkout = wait_for(launch(user, facility=hub_facility()))
    hub_client(launch_env).stop_server(checkout.hub_username, checkout.server_name)  # as an idle culler would

    checkout_stop(user=user, pk=checkout.pk)

    eventually(lambda: stop_messages(checkout) == [
        (True, f"Server {checkout.server_name} was already gone from {checkout.facility_slug}.")])


def test_a_stop_is_refused_twice_and_for_a_launch_whose_facility_was_deleted(launch_env, hub_facility):
    user = make_user()
    facility = hub_facility()
    first, second = wait_for(launch(user, facility=facility)), wait_for(launch(user, facility=facility))
    api = api_for(user)

    assert api.post(f"/api/checkouts/{first.pk}/stop/").status_code == 202
    again = api.post(f"/api/checkouts/{first.pk}/stop/")
    eventually(lambda: len(stop_messages(first)) == 1)
    Facility.objects.filter(pk=facility.pk).delete()
    orphan = api.post(f"/api/checkouts/{second.pk}/stop/")

    assert again.status_code == 400 and "this one is stopped" in str(again.json())
    assert orphan.status_code == 400 and "no longer exists" in str(orphan.json())
    second.refresh_from_db()
    assert second.state == "ready"
    hub_client(launch_env).stop_server(second.hub_username, second.server_name)


def test_the_progress_stream_of_a_stopped_launch_ends_with_the_stops_outcome(launch_env, hub_facility):
    user = make_user()
    checkout = wait_for(launch(user, facility=hub_facility()))
    page = Client()
    page.force_login(user)
    checkout_stop(user=user, pk=checkout.pk)

    stream = b"".join(page.get(f"/checkouts/{checkout.pk}/stream/").streaming_content).decode()

    last = stream.rstrip().split("\n\n")[-1]
    assert last.splitlines()[1] == "event: stopped"
    assert '"server_stopped": true' in last and "its server was stopped" in last
    assert "was stopped" in page.get(f"/checkouts/{checkout.pk}/").content.decode()


def test_a_ready_launchs_notebook_downloads_as_it_is_on_its_server_with_its_outputs(launch_env, hub_facility):
    user = make_user()
    checkout = wait_for(launch(user, facility=hub_facility()))
    page = Client()
    page.force_login(user)

    download = page.get(f"/checkouts/{checkout.pk}/notebook/")
    hub_client(launch_env).stop_server(checkout.hub_username, checkout.server_name)  # culled meanwhile
    gone = page.get(f"/checkouts/{checkout.pk}/notebook/", follow=True)

    assert download.status_code == 200 and download["Content-Type"] == "application/x-ipynb+json"
    assert download["Content-Disposition"] == "attachment; filename=\"light_curve_summary.ipynb\""
    outputs = "".join(o.get("text", "") for c in download.json()["cells"] for o in c.get("outputs", []))
    assert "lightcurves/crab_pulsar.csv: 200 samples" in outputs
    assert download.json()["metadata"]["esap"]["launch"]["checkout"] == str(checkout.pk)
    assert gone.redirect_chain[-1][0] == f"/checkouts/{checkout.pk}/"
    assert "The facility&#x27;s JupyterHub" in gone.content.decode()
    assert Client().get(f"/checkouts/{checkout.pk}/notebook/").status_code == 302  # to the login
    other = Client()
    other.force_login(make_user())
    assert other.get(f"/checkouts/{checkout.pk}/notebook/").status_code == 404
