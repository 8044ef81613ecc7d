"""Operators end anyone's launch from the admin's list of checkouts, as its user's own Cancel or Stop would:
a departed user's launch that keeps its facility, a runaway one. The launch's page tells its user an operator
did it; the event's data says which operator."""
import html

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from facilities.models import Facility
from staging.checkout import machine
from staging.checkout.services import checkout_stop
from staging.models import Checkout
from tests.factories import make_facility, make_user
from tests.launching import eventually, hub_client, launch, wait_for

CHANGELIST = "/admin/staging/checkout/"
ACTION = "stop_launches"


def operator(*permissions: str) -> Client:
    """A staff user with only the given permissions on checkouts (not a superuser), logged in."""
    user = make_user(staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="staging",
                                                         codename__in=[f"{p}_checkout" for p in permissions]))
    client = Client()
    client.force_login(user)
    client.username = user.get_username()
    return client


def stop(client: Client, *launches: Checkout, action: str = ACTION):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [str(c.pk) for c in launches]},
                       follow=True)


def page_of(checkout: Checkout) -> str:
    client = Client()
    client.force_login(checkout.user)
    return html.unescape(client.get(f"/checkouts/{checkout.pk}/").content.decode())


def stop_outcomes(checkout: Checkout) -> list[bool]:
    return [e.data["server_stopped"] for e in checkout.events.filter(data__has_key="server_stopped")]


def server_gone(hub, checkout: Checkout) -> bool:
    return hub_client(hub).get_server(checkout.hub_username, checkout.server_name) is None


@pytest.mark.hub
@pytest.mark.django_db(transaction=True)
def test_an_operator_stops_a_ready_launch_its_server_goes_and_the_facility_can_then_be_deleted(
        launch_env, hub_facility):
    facility = hub_facility()
    ready = wait_for(launch(facility=facility))
    assert ready.state == "ready", ready.error_message
    staff = operator("view", "change")

    response = stop(staff, ready)

    assert f"Ended 1 launches; their servers are being stopped: {ready.pk} of {ready.user} (was ready)." in \
        html.unescape(response.content.decode())
    ready.refresh_from_db()
    assert ready.state == "stopped"
    eventually(lambda: server_gone(launch_env, ready))
    eventually(lambda: stop_outcomes(ready) == [True])
    event = ready.events.get(phase="stopped", message="Server stop requested by an operator.")
    assert event.data == {"operator": staff.username}
    assert "Server stop requested by an operator." in page_of(ready)

    superuser = make_user(staff=True)
    superuser.is_superuser = True
    superuser.save()
    admin = Client()
    admin.force_login(superuser)
    deleted = admin.post(f"/admin/facilities/facility/{facility.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302 and not Facility.objects.filter(pk=facility.pk).exists()


@pytest.mark.hub
@pytest.mark.django_db(transaction=True)
def test_an_operator_cancels_a_failed_launch_and_tries_a_failed_stop_again(launch_env, hub_facility):
    facility = hub_facility()
    failed = wait_for(launch(facility=facility, profile="exits"))
    assert failed.state == "failed" and failed.server_name
    stuck = wait_for(launch(facility=facility))
    assert stuck.state == "ready", stuck.error_message
    hub_url = facility.hub_url
    Facility.objects.filter(pk=facility.pk).update(hub_url="http://127.0.0.1:9")  # nothing listens there
    checkout_stop(user=stuck.user, pk=stuck.pk)
    eventually(lambda: stop_outcomes(stuck) == [False])
    Facility.objects.filter(pk=facility.pk).update(hub_url=hub_url)

    response = stop(operator("view", "change"), failed, stuck)

    assert "Ended 2 launches" in response.content.decode()
    failed.refresh_from_db()
    assert failed.state == "cancelled"
    eventually(lambda: stop_outcomes(failed) == [True])
    eventually(lambda: server_gone(launch_env, stuck))
    eventually(lambda: stop_outcomes(stuck) == [False, True])
    assert "Cancelled by an operator." in page_of(failed)
    assert "Server stop requested again by an operator." in page_of(stuck)


@pytest.mark.django_db
def test_launches_under_way_are_cancelled_and_those_already_over_are_named():
    facility = make_facility("busy")
    user = make_user("departed")
    spawning = Checkout.objects.create(user=user, state="spawning", facility=facility)
    created = Checkout.objects.create(user=user, state="created", facility=facility)
    over = Checkout.objects.create(user=user, state="stopped", facility=facility, server_name="esap-1")
    machine.record(over.pk, phase="stopped", message="stop ended", data={"server_stopped": True})

    page = html.unescape(stop(operator("view", "change"), spawning, created, over).content.decode())

    assert "Ended 2 launches" in page
    assert f"{spawning.pk} of departed (was spawning)" in page
    assert f"{created.pk} of departed (was created)" in page
    assert f"1 already over, with no server left to stop: {over.pk} of departed (stopped)." in page
    assert set(Checkout.objects.filter(user=user).values_list("state", flat=True)) == {"cancelled", "stopped"}
    assert "<strong>cancelled</strong> — Cancelled by an operator." in page_of(spawning)
    assert "Cancelled by the user." not in page_of(spawning)
    machine.record(spawning.pk, phase="cancelled", message="Server esap-1 stopped on busy.",
                   data={"server_stopped": True})  # as the stop task records its outcome afterwards
    closing = page_of(spawning)
    assert '<p id="cancelled">Cancelled by an operator.' in closing
    assert not over.events.filter(data__has_key="operator").exists()


@pytest.mark.django_db
def test_a_staff_user_without_the_change_permission_cannot_stop_launches():
    launch = Checkout.objects.create(user=make_user(), state="spawning", facility=make_facility("held"))
    viewer = operator("view")

    changelist = viewer.get(CHANGELIST).content.decode()
    response = stop(viewer, launch)

    assert "Stop selected launches" not in changelist
    assert response.status_code == 200
    launch.refresh_from_db()
    assert launch.state == "spawning" and not launch.events.exists()
    with_change = operator("view", "change").get(CHANGELIST).content.decode()
    assert "Stop selected launches (and their servers)" in with_change


@pytest.mark.hub
@pytest.mark.django_db(transaction=True)
def test_a_facility_whose_hub_is_gone_can_be_deleted_once_its_launches_servers_are_recorded_as_gone(
        launch_env, hub_facility):
    facility = hub_facility()
    failed = wait_for(launch(facility=facility, profile="exits"))  # its server name is on record
    assert failed.state == "failed" and failed.server_name
    Facility.objects.filter(pk=facility.pk).update(hub_url="http://127.0.0.1:9")  # the hub is gone
    staff = operator("view", "change")
    superuser = make_user(staff=True)
    superuser.is_superuser = True
    superuser.save()
    admin = Client()
    admin.force_login(superuser)
    delete = f"/admin/facilities/facility/{facility.pk}/delete/"

    stop(staff, failed)  # cancelled; its server's stop cannot reach the hub
    eventually(lambda: stop_outcomes(failed) == [False])
    refused = html.unescape(admin.post(delete, {"post": "yes"}, follow=True).content.decode())
    assert "Record the servers of selected launches as gone with their hub" in refused
    assert Facility.objects.filter(pk=facility.pk).exists()

    page = html.unescape(stop(staff, failed, action="forget_servers").content.decode())

    assert f"Recorded 1 servers as gone: {failed.pk} of {failed.user}." in page
    assert f"An operator recorded that server {failed.server_name} is gone with its hub." in page_of(failed)
    assert admin.post(delete, {"post": "yes"}).status_code == 302
    assert not Facility.objects.filter(pk=facility.pk).exists()


@pytest.mark.django_db
def test_a_launch_under_way_or_ready_is_not_recorded_as_gone_but_must_be_stopped_first():
    launch = Checkout.objects.create(user=make_user(), state="ready", facility=make_facility("up"),
                                     server_name="esap-1")

    page = html.unescape(stop(operator("view", "change"), launch, action="forget_servers").content.decode())

    assert "1 not recorded" in page and "This launch is ready: stop it first" in page
    assert not launch.events.filter(data__has_key="forgotten").exists()
