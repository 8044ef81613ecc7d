"""The facility catalogue over REST: search, filters, pagination, registration by operators."""
import pytest
from rest_framework.test import APIClient

from facilities.models import Facility, Visibility
from tests.factories import make_facility, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def test_search_by_keyword_returns_matching_facilities_with_profiles(api):
    make_facility("swan", name="SWAN", description="CERN analysis service", keywords="cern, eos")
    make_facility("eaf", name="Elastic Analysis Facility", description="Fermilab")

    body = api.get("/api/facilities/", {"q": "cern"}).json()

    assert body["count"] == 1
    assert body["results"][0]["slug"] == "swan"
    assert [p["slug"] for p in body["results"][0]["profiles"]] == ["small", "medium"]
    assert body["results"][0]["keywords"] == ["cern", "eos"]


def test_health_filter_and_unknown_health_is_a_400(api):
    make_facility("a")

    assert api.get("/api/facilities/", {"health": "unknown"}).json()["count"] == 1
    assert api.get("/api/facilities/", {"health": "up"}).json()["count"] == 0
    refused = api.get("/api/facilities/", {"health": "sideways"})
    assert refused.status_code == 400 and "health" in refused.json()["fields"]


def test_pages_link_to_next_and_previous(api):
    for index in range(5):
        make_facility(f"f{index}")

    first = api.get("/api/facilities/", {"page_size": 2}).json()
    second = api.get(first["next"]).json()

    assert first["count"] == 5 and first["previous"] is None and len(first["results"]) == 2
    assert second["previous"] is not None
    assert {f["slug"] for f in first["results"]}.isdisjoint({f["slug"] for f in second["results"]})


def test_token_never_appears_in_api_output(api):
    make_facility("secretive", token="tok-ABCDEF-123456")

    listing = api.get("/api/facilities/").content.decode()
    detail = api.get("/api/facilities/secretive/").content.decode()

    assert "tok-ABCDEF" not in listing and "tok-ABCDEF" not in detail
    assert "api_token" not in listing


def test_hidden_facilities_are_404_for_users_and_listed_for_staff(api):
    make_facility("backstage", visibility=Visibility.HIDDEN)

    assert api.get("/api/facilities/backstage/").status_code == 404
    api.force_authenticate(make_user(staff=True))
    assert api.get("/api/facilities/backstage/").status_code == 200


def test_operators_register_a_facility_over_the_api(api, settings):
    settings.ESAP_ALLOW_PRIVATE_URLS = True
    api.force_authenticate(make_user(staff=True))

    response = api.post("/api/facilities/register/", {
        "name": "Lab hub", "slug": "lab", "hub_url": "http://127.0.0.1:8000/", "api_token": "tok-XYZ-987",
        "profiles": [{"slug": "small", "display_name": "Small"}],
    }, format="json")

    assert response.status_code == 201, response.content
    assert "tok-XYZ" not in response.content.decode()
    facility = Facility.objects.get(slug="lab")
    assert facility.api_token == "tok-XYZ-987" and facility.hub_url == "http://127.0.0.1:8000"


def test_registration_refuses_ssrf_targets_with_a_reason(api, settings):
    settings.ESAP_ALLOW_PRIVATE_URLS = False
    api.force_authenticate(make_user(staff=True))

    response = api.post("/api/facilities/register/", {
        "name": "Metadata", "slug": "meta", "hub_url": "http://169.254.169.254/"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "url.not_allowed"
    assert not Facility.objects.filter(slug="meta").exists()


def test_registration_refuses_a_port_out_of_range_with_a_reason(api, settings):
    settings.ESAP_ALLOW_PRIVATE_URLS = False
    api.force_authenticate(make_user(staff=True))

    response = api.post("/api/facilities/register/", {
        "name": "Odd", "slug": "odd", "hub_url": "http://example.org:99999/"}, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["error"] == "url.not_allowed" and "Port out of range" in response.json()["detail"]
    assert not Facility.objects.filter(slug="odd").exists()


def test_registration_refuses_two_profiles_of_one_slug_naming_it(api, settings):
    settings.ESAP_ALLOW_PRIVATE_URLS = True
    api.force_authenticate(make_user(staff=True))

    response = api.post("/api/facilities/register/", {
        "name": "Twins", "slug": "twins", "hub_url": "http://127.0.0.1:8000/",
        "profiles": [{"slug": "small", "display_name": "Small"}, {"slug": "large", "display_name": "Large"},
                     {"slug": "small", "display_name": "Small again"}]}, format="json")

    assert response.status_code == 400, response.content
    assert "small is given more than once" in str(response.json()["fields"]["profiles"])
    assert not Facility.objects.filter(slug="twins").exists()


def test_the_slug_register_is_refused_since_the_api_could_never_show_that_facility(api, settings):
    settings.ESAP_ALLOW_PRIVATE_URLS = True
    api.force_authenticate(make_user(staff=True))

    response = api.post("/api/facilities/register/", {
        "name": "Register", "slug": "register", "hub_url": "http://127.0.0.1:8000/"}, format="json")

    assert response.status_code == 400, response.content
    assert "'register' is reserved" in str(response.json()["fields"]["slug"])
    assert not Facility.objects.filter(slug="register").exists()


def test_registration_is_for_staff_only(api):
    payload = {"name": "x", "slug": "x", "hub_url": "https://example.org"}

    assert api.post("/api/facilities/register/", payload, format="json").status_code == 401
    api.force_authenticate(make_user())
    assert api.post("/api/facilities/register/", payload, format="json").status_code == 403


def test_duplicate_slug_is_a_field_error(api, settings):
    settings.ESAP_ALLOW_PRIVATE_URLS = True
    make_facility("taken")
    api.force_authenticate(make_user(staff=True))

    response = api.post("/api/facilities/register/", {
        "name": "x", "slug": "taken", "hub_url": "http://127.0.0.1/"}, format="json")

    assert response.status_code == 400 and "slug" in response.json()["fields"]


def test_registration_takes_the_deadlines_and_refuses_nonsense_ones_with_a_reason(api, settings):
    settings.ESAP_ALLOW_PRIVATE_URLS = True
    api.force_authenticate(make_user(staff=True))
    hub = {"name": "Lake hub", "slug": "lake-hub", "hub_url": "http://127.0.0.1:8000/"}

    refused = api.post("/api/facilities/register/", {**hub, "staging_deadline_seconds": 0}, format="json")
    assert refused.status_code == 400 and "staging_deadline_seconds" in refused.json()["fields"]

    response = api.post("/api/facilities/register/", {**hub, "spawn_deadline_seconds": 600,
                                                      "staging_deadline_seconds": 2 * 86400}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["spawn_deadline_seconds"], body["staging_deadline_seconds"]) == (600, 2 * 86400)
    facility = Facility.objects.get(slug="lake-hub")
    assert (facility.spawn_deadline_seconds, facility.staging_deadline_seconds) == (600, 2 * 86400)
    assert Facility().staging_deadline_seconds == 6 * 3600  # hours, not the spawn's minutes, by default


def test_paging_through_facilities_and_workflows_of_one_name_shows_each_once(client):
    from tests.factories import make_workflow

    for number in range(3):
        make_facility(f"twin-{number}", name="Twin hub")
        make_workflow()  # the same notebook, so the same title

    for endpoint, key in (("/api/facilities/", "slug"), ("/api/workflows/", "id")):
        seen = [client.get(endpoint, {"page_size": 1, "page": page}).json()["results"][0][key] for page in (1, 2, 3)]
        assert len(set(seen)) == 3, (endpoint, seen)
