"""Operators register and edit facilities in the Django admin; the token is write-only there too."""
import html

import pytest

from facilities.models import Facility
from tests.factories import make_facility, make_user

pytestmark = pytest.mark.django_db


def facility_form(**overrides) -> dict:
    form = {
        "name": "Admin hub", "slug": "admin-hub", "hub_url": "http://127.0.0.1:8081", "api_token": "adm-TOKEN-1",
        "description": "", "keywords": "", "allow_user_creation": "on", "data_rse_expression": "",
        "data_mount_path": "", "staging_mode": "download", "spawn_deadline_seconds": "300",
        "staging_deadline_seconds": "21600",
        "visibility": "public",
        "profiles-TOTAL_FORMS": "1", "profiles-INITIAL_FORMS": "0", "profiles-MIN_NUM_FORMS": "0",
        "profiles-MAX_NUM_FORMS": "1000", "profiles-0-slug": "small", "profiles-0-display_name": "Small",
        "profiles-0-description": "", "profiles-0-position": "0",
    }
    form.update(overrides)
    return form


def test_admin_adds_a_facility_with_profiles_and_an_encrypted_token(admin_client_logged_in):
    response = admin_client_logged_in.post("/admin/facilities/facility/add/", facility_form())

    assert response.status_code == 302, response.content.decode()[:2000]
    facility = Facility.objects.get(slug="admin-hub")
    assert facility.api_token == "adm-TOKEN-1"
    assert list(facility.profiles.values_list("slug", flat=True)) == ["small"]


def test_admin_change_page_never_shows_the_token_and_blank_keeps_it(admin_client_logged_in):
    facility = make_facility("kept", token="keep-ME-secret", hub_url="http://127.0.0.1:8081", profiles=())

    page = admin_client_logged_in.get(f"/admin/facilities/facility/{facility.pk}/change/")
    assert page.status_code == 200 and "keep-ME-secret" not in page.content.decode()

    form = facility_form(name="Renamed", slug="kept", api_token="")
    response = admin_client_logged_in.post(f"/admin/facilities/facility/{facility.pk}/change/", form)

    assert response.status_code == 302, response.content.decode()[:2000]
    facility.refresh_from_db()
    assert facility.name == "Renamed" and facility.api_token == "keep-ME-secret"


def test_admin_refuses_a_hub_url_aimed_at_private_addresses(admin_client_logged_in, settings):
    settings.ESAP_ALLOW_PRIVATE_URLS = False

    response = admin_client_logged_in.post(
        "/admin/facilities/facility/add/", facility_form(hub_url="http://169.254.169.254/"))

    assert response.status_code == 200
    assert "not a public address" in response.content.decode()
    assert not Facility.objects.filter(slug="admin-hub").exists()


def test_admin_refuses_a_hub_url_with_a_port_out_of_range(admin_client_logged_in, settings):
    settings.ESAP_ALLOW_PRIVATE_URLS = False

    response = admin_client_logged_in.post(
        "/admin/facilities/facility/add/", facility_form(hub_url="http://example.org:99999/"))

    assert response.status_code == 200
    assert "Port out of range" in response.content.decode()
    assert not Facility.objects.filter(slug="admin-hub").exists()


def test_admin_refuses_two_profiles_of_one_slug(admin_client_logged_in):
    twice = facility_form(**{"profiles-TOTAL_FORMS": "2", "profiles-1-slug": "small",
                             "profiles-1-display_name": "Small again", "profiles-1-description": "",
                             "profiles-1-position": "1"})

    response = admin_client_logged_in.post("/admin/facilities/facility/add/", twice)

    assert response.status_code == 200
    assert "Please correct the duplicate data for slug" in response.content.decode()
    assert not Facility.objects.filter(slug="admin-hub").exists()


def test_admin_refuses_the_reserved_slug_register(admin_client_logged_in):
    response = admin_client_logged_in.post("/admin/facilities/facility/add/", facility_form(slug="register"))

    assert response.status_code == 200
    assert "&#x27;register&#x27; is reserved" in response.content.decode()
    assert not Facility.objects.filter(slug="register").exists()


def test_workflows_and_datasets_are_editable_in_the_admin(admin_client_logged_in):
    assert admin_client_logged_in.get("/admin/workflows/workflow/add/").status_code == 200
    assert admin_client_logged_in.get("/admin/staging/dataset/add/").status_code == 200


def test_a_facility_with_launches_running_or_ready_cannot_be_deleted_until_they_end(admin_client_logged_in):
    from staging.models import Checkout

    facility = make_facility("busy", hub_url="http://127.0.0.1:8081")
    launch = Checkout.objects.create(user=make_user(), state="ready", facility=facility, server_name="esap-1")
    Checkout.objects.create(user=make_user(), state="stopped", facility=facility)

    refused = admin_client_logged_in.post(delete_url(facility), {"post": "yes"})

    assert refused.status_code == 200 and f"Launch {launch.pk}" in refused.content.decode()
    assert Facility.objects.filter(pk=facility.pk).exists()
    Checkout.objects.filter(pk=launch.pk).update(state="stopped")
    deleted = admin_client_logged_in.post(delete_url(facility), {"post": "yes"})
    assert deleted.status_code == 302 and not Facility.objects.filter(pk=facility.pk).exists()


def test_the_bulk_delete_action_refuses_too(admin_client_logged_in):
    from staging.models import Checkout

    busy, idle = make_facility("busy-bulk"), make_facility("idle-bulk")
    Checkout.objects.create(user=make_user(), state="spawning", facility=busy)

    admin_client_logged_in.post("/admin/facilities/facility/", {
        "action": "delete_selected", "_selected_action": [busy.pk, idle.pk], "post": "yes"})

    assert Facility.objects.filter(pk__in=[busy.pk, idle.pk]).count() == 2



def stop_attempt(launch, *, worked: bool) -> None:
    """The event the pipeline records when a stop of the launch's server ends."""
    from staging.checkout.machine import record

    record(launch.pk, phase=launch.state, message="stop ended", data={"server_stopped": worked})


def test_launches_that_may_still_hold_a_server_keep_their_facility_and_say_what_to_do(admin_client_logged_in):
    from staging.models import Checkout

    facility = make_facility("held", hub_url="http://127.0.0.1:8081")
    user = make_user()
    failed = Checkout.objects.create(user=user, facility=facility, state="failed", failed_step="executing",
                                     server_name="esap-failed")
    failed_before_any_server = Checkout.objects.create(user=user, facility=facility, state="failed",
                                                       failed_step="staging")
    stop_failed = Checkout.objects.create(user=user, facility=facility, state="stopped", server_name="esap-2")
    stop_attempt(stop_failed, worked=True)
    stop_attempt(stop_failed, worked=False)  # the last one counts
    stopped_after_all = Checkout.objects.create(user=user, facility=facility, state="cancelled",
                                                server_name="esap-3")
    stop_attempt(stopped_after_all, worked=False)
    stop_attempt(stopped_after_all, worked=True)

    refused = admin_client_logged_in.post(delete_url(facility), {"post": "yes"})

    page = html.unescape(refused.content.decode())
    assert f"Launch {failed.pk}" in page and "must be cancelled first (Cancel on the launch's page)" in page
    assert f"Launch {stop_failed.pk}" in page and "Try stopping the server again" in page
    assert page.count("or select it under Checkouts and use 'Stop selected launches'") == 2
    assert str(stopped_after_all.pk) not in page and str(failed_before_any_server.pk) not in page
    assert Facility.objects.filter(pk=facility.pk).exists()

    Checkout.objects.filter(pk=failed.pk).update(state="cancelled")
    stop_attempt(Checkout.objects.get(pk=failed.pk), worked=True)
    stop_attempt(stop_failed, worked=True)
    deleted = admin_client_logged_in.post(delete_url(facility), {"post": "yes"})
    assert deleted.status_code == 302 and not Facility.objects.filter(pk=facility.pk).exists()


def delete_url(facility: Facility) -> str:
    return f"/admin/facilities/facility/{facility.pk}/delete/"
