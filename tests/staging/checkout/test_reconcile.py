"""A ready launch whose server the facility stopped by itself (an idle culler, an operator) is found by
a periodic look at the hubs and becomes stopped, so that nobody is sent to a notebook that is gone. The
hub is the suite's real one (users named limited-* may run a single named server there); the culler is
played by stopping the server through the hub's API, as jupyterhub-idle-culler does by default: stopped,
not removed, so the hub still counts it against the user's limit until the portal removes it."""
import pytest
from rest_framework.test import APIClient

from facilities.hub.client import HubClient
from facilities.hub.errors import HubUnavailable
from staging.checkout.reconcile import STOPPED_BY_FACILITY, reconcile_ready_launches
from staging.checkout.services import checkout_stop
from staging.models import Checkout
from staging.selectors import server_stop_failed
from tests.factories import make_facility, make_user
from tests.launching import eventually, hub_client, launch, wait_for

pytestmark = [pytest.mark.hub, pytest.mark.django_db(transaction=True)]


def ready_launch(user, facility) -> Checkout:
    checkout = wait_for(launch(user, facility=facility))
    assert checkout.state == "ready", checkout.error_message
    return checkout


def cull(hub, checkout: Checkout) -> None:
    hub_client(hub).stop_server(checkout.hub_username, checkout.server_name, remove=False)


def state_of(checkout: Checkout) -> str:
    return Checkout.objects.get(pk=checkout.pk).state


def users_asked_one_by_one(monkeypatch) -> list[str]:
    """The real client, noting which users it is asked about one at a time."""
    asked: list[str] = []
    one_by_one = HubClient.list_servers

    def noting(client, user):
        asked.append(user)
        return one_by_one(client, user)

    monkeypatch.setattr(HubClient, "list_servers", noting)
    return asked


def test_a_ready_launch_whose_server_the_facility_stopped_is_found_and_becomes_stopped(launch_env, hub_facility):
    user, facility = make_user(), hub_facility()
    culled, running = ready_launch(user, facility), ready_launch(user, facility)
    cull(launch_env, culled)
    unreachable = Checkout.objects.create(user=make_user(), state="ready", facility=make_facility(),
                                          server_name="esap-0", hub_username="someone", workflow_title="x")

    found = reconcile_ready_launches()

    assert found == 1
    culled.refresh_from_db()
    assert (culled.state, culled.events.last().message) == ("stopped", STOPPED_BY_FACILITY)
    api = APIClient()
    api.force_authenticate(user)
    assert api.get(f"/api/checkouts/{culled.pk}/events/").json()["terminal"]["server_stopped"] is True
    assert state_of(running) == "ready"
    assert state_of(unreachable) == "ready"  # its hub is asked again next time
    assert reconcile_ready_launches() == 0
    checkout_stop(user=user, pk=running.pk)


def test_the_culled_server_is_removed_from_the_hub_so_its_limit_lets_the_next_launch_through(
        launch_env, hub_facility):
    user, facility = make_user("limited-rita"), hub_facility()
    culled = ready_launch(user, facility)
    cull(launch_env, culled)
    assert hub_client(launch_env).server_known(culled.hub_username, culled.server_name)

    assert reconcile_ready_launches() == 1

    assert not hub_client(launch_env).server_known(culled.hub_username, culled.server_name)
    next_launch = ready_launch(user, facility)  # without the removal: spawn.server_limit, and no way out
    checkout_stop(user=user, pk=next_launch.pk)


def test_fault_a_culled_server_the_hub_did_not_remove_is_left_for_its_user_to_stop_again(
        launch_env, hub_facility, monkeypatch):
    # A hub answering the listing and failing the removal a moment later cannot be timed for real.
    user, facility = make_user(), hub_facility()
    culled = ready_launch(user, facility)
    cull(launch_env, culled)

    def fake_hub_gone_before_the_removal(*args, **kwargs):
        raise HubUnavailable("connection refused")

    monkeypatch.setattr(HubClient, "stop_server", fake_hub_gone_before_the_removal)

    assert reconcile_ready_launches() == 1

    assert state_of(culled) == "stopped" and server_stop_failed(checkout=culled)
    assert culled.events.last().message.startswith("The server could not be removed from the hub")
    monkeypatch.undo()
    checkout_stop(user=user, pk=culled.pk)  # the launch page's "Try stopping the server again"
    eventually(lambda: not hub_client(launch_env).server_known(culled.hub_username, culled.server_name))


def test_a_hub_with_many_of_the_portals_users_is_listed_once_and_only_the_missing_are_asked(
        launch_env, hub_facility, monkeypatch):
    facility, culled_user, busy_user = hub_facility(), make_user(), make_user()
    culled, kept = ready_launch(culled_user, facility), ready_launch(culled_user, facility)
    busy = ready_launch(busy_user, facility)
    cull(launch_env, culled)
    asked = users_asked_one_by_one(monkeypatch)

    found = reconcile_ready_launches(list_from_users=2)

    assert found == 1
    assert (state_of(culled), state_of(kept), state_of(busy)) == ("stopped", "ready", "ready")
    assert asked == [culled.hub_username]  # the user whose launch the listing missed, to be sure
    checkout_stop(user=culled_user, pk=kept.pk)
    checkout_stop(user=busy_user, pk=busy.pk)


def test_fault_a_user_an_offset_page_skipped_is_asked_before_any_launch_of_theirs_is_stopped(
        launch_env, hub_facility, monkeypatch):
    # Offset pages shift when a user listed earlier stops meanwhile; that race cannot be timed for
    # real, so the listing below is the real one with a user dropped, as the shift would drop them.
    facility, user, other = hub_facility(), make_user(), make_user()
    skipped, listed = ready_launch(user, facility), ready_launch(other, facility)
    real_listing = HubClient.active_servers
    monkeypatch.setattr(HubClient, "active_servers", lambda client: {
        name: servers for name, servers in real_listing(client).items() if name != skipped.hub_username})
    asked = users_asked_one_by_one(monkeypatch)

    assert reconcile_ready_launches(list_from_users=2) == 0

    assert (state_of(skipped), state_of(listed)) == ("ready", "ready")
    assert asked == [skipped.hub_username]
    checkout_stop(user=user, pk=skipped.pk)
    checkout_stop(user=other, pk=listed.pk)


def test_a_hub_that_does_not_let_the_portal_list_users_is_asked_user_by_user(launch_env, hub_facility):
    facility, user, other = hub_facility(), make_user(), make_user()
    culled, running = ready_launch(user, facility), ready_launch(other, facility)
    cull(launch_env, culled)
    facility.api_token = launch_env.no_create_token  # read:users, without list:users
    facility.save()

    assert reconcile_ready_launches(list_from_users=2) == 1

    assert (state_of(culled), state_of(running)) == ("stopped", "ready")
    checkout_stop(user=other, pk=running.pk)


def test_a_hub_that_cannot_be_listed_for_being_down_is_left_for_next_time(hub_facility):
    down = make_facility(hub_url="http://127.0.0.1:9")
    launches = [Checkout.objects.create(user=make_user(), state="ready", facility=down, server_name="esap-0",
                                        hub_username=f"someone-{n}", workflow_title="x") for n in range(2)]

    assert reconcile_ready_launches(list_from_users=2) == 0

    assert [state_of(checkout) for checkout in launches] == ["ready", "ready"]
