"""Searching VO services from the portal (REST and page) against the real DaCHS fixture, adding results to
the cart, and each fault answered with a clear error while the cart stays intact."""
import io
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser

import pytest
import requests
from django.test import Client
from rest_framework.test import APIClient

from staging import vo_services
from staging.models import CartItem, Dataset, VOService
from staging.selectors import cart_for
from tests.factories import make_dataset, make_facility, make_user, make_workflow
from tests.servers.vo.fakes import FakeMalformedVOTableServer, FakeVOServer
from tests.staging.sources.test_vo_staging import ARCHIVE_HOST, INTERNAL_HOST, Site, archive_only, redirect

pytestmark = [pytest.mark.django_db, pytest.mark.vo]

FIELD_A_V = "ivo://test.portal.local/~?vofix/data/field-a-v.fits"
FIELD_B_V = "ivo://test.portal.local/~?vofix/data/field-b-v.fits"


@pytest.fixture
def tap(vo_server):
    return VOService.objects.create(name="Fixture TAP", slug="fixture-tap", kind="tap", url=vo_server.tap_url)


@pytest.fixture
def registry(vo_server):
    return VOService.objects.create(name="Fixture registry", slug="fixture-rr", kind="registry",
                                    url=vo_server.registry_url)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_services_are_listed_with_their_kind(api, tap, registry):
    VOService.objects.create(name="Hidden", slug="off", url="http://127.0.0.1:9/tap", enabled=False)
    listed = api.get("/api/vo/services/").json()
    assert [(s["slug"], s["kind"]) for s in listed] == [("fixture-rr", "registry"), ("fixture-tap", "tap")]


def test_search_by_position_pages_through_results(api, tap):
    first = api.get("/api/vo/services/fixture-tap/search/", {"page_size": 2}).json()
    second = api.get("/api/vo/services/fixture-tap/search/", {"page_size": 2, "page": first["next"]}).json()
    assert (len(first["results"]), first["next"], len(second["results"]), second["next"]) == (2, 2, 1, None)
    cone = api.get("/api/vo/services/fixture-tap/search/", {"ra": "150", "dec": "2", "radius": "0.05"}).json()
    assert [row["publisher_did"] for row in cone["results"]] == [FIELD_B_V]
    assert cone["query"] == {"ra": 150.0, "dec": 2.0, "radius": 0.05} and "CONTAINS" in cone["adql"]


def test_adding_a_result_records_service_query_and_row(api, tap, vo_server):
    added = api.post("/api/vo/services/fixture-tap/cart/",
                     {"publisher_did": FIELD_A_V, "query": {"ra": 10, "dec": 20, "radius": 0.2}},
                     format="json")
    assert added.status_code == 201, added.json()
    dataset = Dataset.objects.get(source="vo", identifier=FIELD_A_V)
    assert dataset.metadata["service_url"] == vo_server.tap_url
    assert "query" not in dataset.metadata  # the catalogue row is everyone's; the query is the user's
    assert CartItem.objects.get(dataset=dataset).provenance == {
        "query": {"ra": 10.0, "dec": 20.0, "radius": 0.2}, "service_url": vo_server.tap_url,
        "service_name": "Fixture TAP", "datalink_url": dataset.metadata["datalink_url"]}
    assert "query" not in APIClient().get(f"/api/datasets/{dataset.pk}/").json()["metadata"]
    assert dataset.metadata["publisher_did"] == FIELD_A_V
    assert dataset.metadata["access_url"] == f"{vo_server.url}/getproduct/vofix/data/field-a-v.fits"
    assert dataset.metadata["datalink_url"].endswith("/dlmeta") and dataset.size_bytes == 5 * 1024
    assert [i["dataset"]["identifier"] for i in api.get("/api/cart/").json()["items"]] == [FIELD_A_V]


def dachs_row_retitled(vo_server, title: str) -> bytes:
    """DaCHS's own answer for FIELD_A_V with another title, as a binary VOTable (whose text cells can hold
    any character, NUL too)."""
    from astropy.io.votable import parse

    adql = vo_services.vo.obscore_rows(vo_server.tap_url, [FIELD_A_V]).adql
    answer = requests.post(f"{vo_server.tap_url}/sync", data={"REQUEST": "doQuery", "LANG": "ADQL",
                                                               "QUERY": adql}, timeout=30)
    votable = parse(io.BytesIO(answer.content))
    votable.get_first_table().array["obs_title"][0] = title
    retitled = io.BytesIO()
    votable.to_xml(retitled, tabledata_format="binary2")
    return retitled.getvalue()


def test_a_result_with_a_title_longer_than_the_catalogue_keeps_is_added_with_the_title_cut(
        api, browser_client, vo_server):
    title = "Field A in V,\x00 " + "observed again and again " * 30  # over 700 characters, and a NUL
    with FakeVOServer(dachs_row_retitled(vo_server, title)) as fake:
        VOService.objects.create(name="Wordy TAP", slug="wordy", kind="tap", url=f"{fake.url}/tap")
        added = api.post("/api/vo/services/wordy/cart/", {"publisher_did": FIELD_A_V}, format="json")
        again = browser_client.post("/vo/add/", {"service": "wordy", "publisher_did": FIELD_A_V}, follow=True)
    assert added.status_code == 201, added.content
    assert b"Added to your cart." in again.content
    dataset = Dataset.objects.get(source="vo", identifier=FIELD_A_V)
    whole = title.replace("\x00", "")
    assert dataset.title == whole[:Dataset._meta.get_field("title").max_length] and len(dataset.title) == 500
    assert dataset.metadata["row"]["title"] == whole  # the row as the service gave it, but for the NUL


def test_each_user_launches_with_the_service_they_searched_though_the_catalogue_row_is_shared(
        monkeypatch, tap, vo_server):
    from staging import services
    from staging.checkout.services import checkout_start
    from staging.sources.base import DatasetRef, StagingTarget
    from staging.sources.vo_staging import vo_source

    monkeypatch.setattr("staging.tasks.checkout_run.delay", lambda checkout_id: None)
    sia2 = VOService.objects.create(name="Fixture SIA2", slug="fixture-sia2", kind="sia2",
                                    url=vo_server.sia2_url)
    ann, bob, cy = make_user(), make_user(), make_user()
    vo_services.vo_cart_add(user=ann, service=tap, publisher_did=FIELD_B_V, params={"keywords": "field b"})
    services.cart_add_dataset(user=cy, dataset_id=Dataset.objects.get(identifier=FIELD_B_V).pk,
                              provenance={"query": {"keywords": "field"}})  # a line added before the fix
    vo_services.vo_cart_add(user=bob, service=sia2, publisher_did=FIELD_B_V,
                            params={"ra": 150, "dec": 2, "radius": 0.05})
    workflow, facility = make_workflow(), make_facility()

    def provenance_staged(user) -> dict:
        services.cart_choose_workflow(user=user, workflow_id=workflow.pk)
        services.cart_choose_facility(user=user, facility_slug=facility.slug)
        refs = [DatasetRef(d["identifier"], d["metadata"]) for d in checkout_start(user=user).datasets]
        return vo_source.stage(refs, target=StagingTarget(facility.slug))[0].details["provenance"]

    ann_s, bob_s, cy_s = provenance_staged(ann), provenance_staged(bob), provenance_staged(cy)
    assert (ann_s["service_url"], ann_s["service_name"], ann_s["query"]) == (
        vo_server.tap_url, "Fixture TAP", {"keywords": "field b"})
    assert (bob_s["service_url"], bob_s["service_name"], bob_s["query"]) == (
        vo_server.sia2_url, "Fixture SIA2", {"ra": 150.0, "dec": 2.0, "radius": 0.05})
    assert (cy_s["service_url"], cy_s["query"]) == (vo_server.sia2_url, {"keywords": "field"})  # the row's
    assert all(p["datalink_url"].endswith("/dlmeta") for p in (ann_s, bob_s, cy_s))


def test_an_identifier_the_service_does_not_have_is_refused(api, tap):
    answer = api.post("/api/vo/services/fixture-tap/cart/", {"publisher_did": "ivo://x/forged"},
                      format="json")
    assert answer.status_code == 400 and answer.json()["error"] == "vo.not_found"
    assert not Dataset.objects.filter(source="vo").exists()


def test_registry_search_lists_services(api, registry, vo_server):
    found = api.get("/api/vo/services/fixture-rr/registry/",
                    {"keywords": "fixture", "servicetype": "sia2"}).json()
    assert [r["access_url"] for r in found["results"]] == [vo_server.sia2_url]


def test_an_sia2_service_is_searched_by_position_and_its_rows_carted(api, vo_server):
    VOService.objects.create(name="Fixture SIA2", slug="fixture-sia2", kind="sia2", url=vo_server.sia2_url)
    found = api.get("/api/vo/services/fixture-sia2/search/", {"ra": 150, "dec": 2, "radius": 0.05}).json()
    assert [row["publisher_did"] for row in found["results"]] == [FIELD_B_V] and found["next"] is None
    added = api.post("/api/vo/services/fixture-sia2/cart/", {"publisher_did": FIELD_B_V}, format="json")
    assert added.status_code == 201
    metadata = Dataset.objects.get(identifier=FIELD_B_V).metadata
    assert metadata["service_url"] == vo_server.sia2_url and metadata["datalink_url"].endswith("/dlmeta")


def test_a_registry_has_no_datasets_to_cart(api, registry):
    refused = api.post("/api/vo/services/fixture-rr/cart/", {"publisher_did": FIELD_B_V}, format="json")
    assert refused.status_code == 400 and refused.json()["error"] == "vo.not_searchable"


def test_page_lists_services_a_registry_knows(browser_client, registry, vo_server):
    page = browser_client.get("/vo/", {"service": "fixture-rr", "keywords": "fixture", "servicetype": "tap"})
    assert page.status_code == 200 and b"ivo://test.portal.local/tap" in page.content
    assert vo_server.tap_url.encode() in page.content


# --- faults: a clear error, nothing lost ---------------------------------------------------------------

def _cart_with_one_dataset(user) -> list[int]:
    dataset = make_dataset("kept.csv")
    CartItem.objects.create(cart=cart_for(user=user), dataset=dataset)
    return [dataset.pk]


def _cart(user) -> list[int]:
    return list(cart_for(user=user).items.values_list("dataset_id", flat=True))


def test_fault_service_down_is_a_503_with_the_reason_and_the_cart_is_intact(api, alice):
    kept = _cart_with_one_dataset(alice)
    port = closed_port()
    VOService.objects.create(name="Down", slug="down", url=f"http://127.0.0.1:{port}/tap")
    search = api.get("/api/vo/services/down/search/")
    add = api.post("/api/vo/services/down/cart/", {"publisher_did": FIELD_A_V}, format="json")
    for answer in (search, add):
        assert answer.status_code == 503 and answer.json()["error"] == "vo.unavailable"
        detail = answer.json()["detail"]  # the plain sentence, then the technical account, for API clients
        assert detail.startswith("The VO service 'Down' could not be reached: nothing answers at its address "
                                 "(the service is down). Try again later or choose another service. Detail: "
                                 f"http://127.0.0.1:{port}/tap could not be reached or failed: ")
        assert "Connection refused" in detail
    assert _cart(alice) == kept


def test_fault_malformed_votable_is_a_503_naming_it(api, alice):
    kept = _cart_with_one_dataset(alice)
    with FakeMalformedVOTableServer() as fake:
        VOService.objects.create(name="Broken", slug="broken", url=f"{fake.url}/tap")
        answer = api.get("/api/vo/services/broken/search/")
    assert answer.status_code == 503 and "malformed VOTable" in answer.json()["detail"]
    assert _cart(alice) == kept


def test_fault_invalid_or_hostile_parameters_are_a_400_with_the_reason(api, tap, alice):
    kept = _cart_with_one_dataset(alice)
    bad = api.get("/api/vo/services/fixture-tap/search/", {"ra": "1; DROP TABLE x", "dec": 0, "radius": 1})
    assert bad.status_code == 400
    assert bad.json() == {"error": "vo.query", "detail": "The VO search cannot be run: ra must be a number."}
    hostile = api.get("/api/vo/services/fixture-tap/search/", {"collection": "x' OR ''='"})
    assert hostile.status_code == 200 and hostile.json()["results"] == []
    assert "obs_collection = 'x'' OR ''''='''" in hostile.json()["adql"]
    assert _cart(alice) == kept


def test_unknown_service_is_a_404(api):
    assert api.get("/api/vo/services/nope/search/").status_code == 404


# --- the page -------------------------------------------------------------------------------------------

@pytest.fixture
def browser_client(alice):
    client = Client()
    client.force_login(alice)
    return client


def test_page_searches_and_adds_to_the_cart(browser_client, tap, alice):
    page = browser_client.get("/vo/", {"service": "fixture-tap", "ra": "10", "dec": "20", "radius": "0.2"})
    assert page.status_code == 200
    assert FIELD_A_V.encode() in page.content and FIELD_B_V.encode() not in page.content
    added = browser_client.post("/vo/add/", {"service": "fixture-tap", "publisher_did": FIELD_A_V, "ra": "10",
                                             "dec": "20", "radius": "0.2"}, follow=True)
    assert b"Added to your cart." in added.content
    assert Dataset.objects.get(pk=_cart(alice)[0]).identifier == FIELD_A_V


class VOPage(HTMLParser):
    """What a person reads on the VO page: each field with the text of its <label>, the legend of its group
    and the kinds of service the group is for; the page's text outside <details>, and inside it."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.labels: dict[str, str] = {}
        self.fields: dict[str, dict[str, str]] = {}
        self.text, self.folded = [], []
        self._label: str | None = None
        self._group: dict[str, str] = {}
        self._in_legend = self._in_details = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "label":
            self._label = found.get("for", "")
            self.labels[self._label] = ""
        elif tag == "fieldset":
            self._group = {"kinds": found.get("data-kinds", ""), "legend": ""}
        elif tag == "legend":
            self._in_legend = True
        elif tag == "details":
            self._in_details = True
        elif tag in ("input", "select") and found.get("type") != "hidden" and found.get("name"):
            self.fields[found["name"]] = {**found, **self._group}

    def handle_endtag(self, tag: str) -> None:
        self._label = None if tag == "label" else self._label
        self._in_legend = False if tag == "legend" else self._in_legend
        self._in_details = False if tag == "details" else self._in_details
        if tag == "fieldset":
            self._group = {}

    def handle_data(self, data: str) -> None:
        (self.folded if self._in_details else self.text).append(data)
        if self._label is not None:
            self.labels[self._label] += data
        if self._in_legend:
            self._group["legend"] += data

    def label(self, name: str) -> str:
        return " ".join(self.labels.get(self.fields[name].get("id", ""), "").split())


PYTHON_ERROR = re.compile(r"\b\w*(Error|Exception)\b|Errno|HTTPConnectionPool|Traceback")


def test_page_shows_a_form_error_for_a_bad_query_and_for_a_service_down(browser_client):
    VOService.objects.create(name="Down", slug="down", url=f"http://127.0.0.1:{closed_port()}/tap")
    bad = browser_client.get("/vo/", {"service": "down", "dec": "north"})
    assert bad.status_code == 400 and b"dec must be a number" in bad.content
    down = browser_client.get("/vo/", {"service": "down"})
    assert down.status_code == 400 and b"could not be reached" in down.content


UNRESOLVABLE = "could not be reached: its host name could not be looked up (no network, or a wrong address)"
REFUSED = "could not be reached: nothing answers at its address (the service is down)"
POLICY = ("may not be called from the portal: it, or an address it sent the portal to, is refused by the "
          "portal's outbound-address policy")


@pytest.mark.parametrize("kind", ["tap", "sia2", "registry"])
@pytest.mark.parametrize("host, allow_private, reason, technical", [
    ("127.0.0.1:{port}", True, REFUSED, "Connection refused"),
    ("esap-vo.invalid", True, UNRESOLVABLE, "Failed to resolve 'esap-vo.invalid'"),
    ("esap-vo.invalid", False, UNRESOLVABLE, "host cannot be resolved"),  # the policy looked it up first
    ("127.0.0.1:{port}", False, POLICY, "127.0.0.1 is not a public address"),
])
def test_page_says_in_plain_words_why_a_service_failed_with_the_technical_detail_folded(
        settings, browser_client, kind, host, allow_private, reason, technical):
    settings.ESAP_ALLOW_PRIVATE_URLS = allow_private
    url = f"http://{host.format(port=closed_port())}/{kind}"
    VOService.objects.create(name="GAVO registry", slug="gone", kind=kind, url=url)
    typed = {"ra": "83.63", "dec": "22.01", "radius": "0.1", "band_min": "4e-7", "time_max": "59500"}
    if kind != "sia2":
        typed = {"keywords": "crab nebula"} if kind == "registry" else {**typed, "keywords": "crab"}

    answer = browser_client.get("/vo/", {"service": "gone", **typed})

    assert answer.status_code == 400
    page = VOPage(answer.content.decode())
    said = " ".join(" ".join(page.text).split())
    assert f"The VO service 'GAVO registry' {reason}. Try again later or choose another service." in said
    assert not PYTHON_ERROR.search(said), PYTHON_ERROR.search(said)
    folded = " ".join("".join(page.folded).split())
    assert folded.startswith("Technical detail") and technical in folded and url.split("/")[2] in folded
    assert {name: page.fields[name]["value"] for name in typed} == typed  # what was typed is kept
    assert 'value="gone" data-kind="%s" selected' % kind in answer.content.decode()


def test_the_add_button_says_in_plain_words_that_the_service_went_away(browser_client, alice):
    VOService.objects.create(name="Gone", slug="gone", url="http://esap-vo.invalid/tap")
    page = browser_client.post("/vo/add/", {"service": "gone", "publisher_did": FIELD_A_V, "ra": "10",
                                            "dec": "20", "radius": "0.2"}, follow=True)
    said = " ".join(" ".join(VOPage(page.content.decode()).text).split())
    assert f"The VO service 'Gone' {UNRESOLVABLE}. Try again later or choose another service." in said
    assert not PYTHON_ERROR.search(said) and _cart(alice) == []


def test_every_field_of_the_search_form_has_a_visible_label_with_its_unit_and_says_which_services_use_it(
        client, tap, registry):
    page = VOPage(client.get("/vo/").content.decode())
    labels = {name: page.label(name) for name in page.fields}
    assert labels == {
        "service": "Service",
        "ra": "RA degrees, ICRS (0 to 360)", "dec": "Dec degrees, ICRS (−90 to 90)", "radius": "Radius degrees",
        "band_min": "From metres", "band_max": "To metres", "time_min": "From MJD", "time_max": "To MJD",
        "collection": "Collection name exact", "keywords": "Keywords", "servicetype": "Kind of service"}
    groups = {name: (" ".join(field["legend"].split()), field["kinds"]) for name, field in page.fields.items()
              if name != "service"}
    assert groups == {
        "ra": ("Position (TAP and SIA2; all three or none)", "tap sia2"),
        "dec": ("Position (TAP and SIA2; all three or none)", "tap sia2"),
        "radius": ("Position (TAP and SIA2; all three or none)", "tap sia2"),
        "band_min": ("Wavelength (TAP and SIA2)", "tap sia2"), "band_max": ("Wavelength (TAP and SIA2)", "tap sia2"),
        "time_min": ("Time of observation (TAP and SIA2)", "tap sia2"),
        "time_max": ("Time of observation (TAP and SIA2)", "tap sia2"),
        "collection": ("Collection (TAP and SIA2)", "tap sia2"),
        "keywords": ("Keywords (TAP: in titles and targets; registry: in service descriptions)", "tap registry"),
        "servicetype": ("Services to list (registry)", "registry")}
    assert 'value="fixture-rr" data-kind="registry"' in client.get("/vo/").content.decode()


def test_a_registry_search_keeps_the_kind_of_services_asked_for(client, registry):
    answer = client.get("/vo/", {"service": "fixture-rr", "servicetype": "sia2"})
    assert answer.status_code == 200
    assert '<option value="sia2" selected>' in answer.content.decode()


def test_the_portal_vets_download_urls_with_its_ssrf_guard(settings, tmp_path):
    from staging.sources.base import DatasetRef, StagingError, StagingTarget
    from staging.sources.vo_staging import vo_source

    settings.ESAP_ALLOW_PRIVATE_URLS = False
    ref = DatasetRef("ivo://x/1", {"access_url": "http://127.0.0.1:9/a.fits", "access_format": "image/fits"})
    with pytest.raises(StagingError, match="may not be downloaded.*not a public address"):
        vo_source.stage([ref], target=StagingTarget("hub", staging_mode="download", mount_path=str(tmp_path)))


def test_anonymous_visitors_can_search_but_not_add(client, tap):
    assert b"Fixture TAP" in client.get("/vo/").content
    page = client.get("/vo/", {"service": "fixture-tap"})
    assert page.status_code == 200
    assert FIELD_A_V.encode() in page.content and b"Add to cart" not in page.content
    refused = client.post("/vo/add/", {"service": "fixture-tap", "publisher_did": FIELD_A_V})
    assert refused.status_code == 302 and "/accounts/login/" in refused["Location"]
    assert not Dataset.objects.filter(source="vo").exists()


def test_only_web_addresses_from_a_remote_archive_become_links():
    from types import SimpleNamespace

    from django.contrib.auth.models import AnonymousUser
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    rows = [SimpleNamespace(title=f"row {n}", publisher_did=f"ivo://x?{n}", access_url=url, ra=None)
            for n, url in enumerate(["javascript:alert(document.cookie)", " JavaScript:alert(1)",
                                     "data:text/html,<script>x</script>", "https://archive.example.org/a.fits"])]
    request = RequestFactory().get("/vo/")
    request.user = AnonymousUser()
    result = SimpleNamespace(page=SimpleNamespace(rows=rows, page=1), service=SimpleNamespace(slug="remote"))

    html = render_to_string("staging/vo.html", {"services": [], "params": {}, "slug": "remote", "result": result,
                                                "registry": None, "error": "", "query_string": ""}, request=request)

    assert html.count('rel="noopener noreferrer">Open</a>') == 1
    assert 'href="https://archive.example.org/a.fits"' in html
    assert "javascript:" not in html.lower() and "data:text/html" not in html


# --- a search service cannot steer the portal's web process (outbound-URL policy) ------------------------

@dataclass
class Steering:
    internal: Site
    refused_url: str


@pytest.fixture
def steering(monkeypatch) -> Iterator[Steering]:
    """TAP service "Steering" on the "archive" (127.0.0.1) sends every query, sync or async, on to the
    recording "internal" server (127.0.0.2), which test_vo_staging.py's policy refuses."""
    internal = Site(INTERNAL_HOST)
    refused_url = f"{internal.url}/latest/meta-data"
    archive = Site(ARCHIVE_HOST, {"/tap/sync": redirect(refused_url),
                                  "/tap/async": (303, {"Location": refused_url}, b"")})
    monkeypatch.setattr(vo_services, "vo_url_policy", archive_only)
    VOService.objects.create(name="Steering", slug="steering", kind="tap", url=f"{archive.url}/tap")
    yield Steering(internal, refused_url)
    archive.close()
    internal.close()


def test_fault_a_service_steering_a_search_to_a_refused_address_is_a_503_naming_it(api, alice, steering):
    kept = _cart_with_one_dataset(alice)
    sync = api.get("/api/vo/services/steering/search/")
    run_async = api.get("/api/vo/services/steering/search/", {"page_size": vo_services.vo.ASYNC_THRESHOLD})
    add = api.post("/api/vo/services/steering/cart/", {"publisher_did": FIELD_A_V}, format="json")
    for answer in (sync, run_async, add):
        assert answer.status_code == 503
        assert answer.json() == {"error": "vo.unavailable", "detail": (
            "The VO service 'Steering' may not be called from the portal: it, or an address it sent the portal "
            "to, is refused by the portal's outbound-address policy. Try again later or choose another service. "
            f"Detail: it (or a URL it led to) may not be called: {steering.refused_url} is not a public address")}
    assert steering.internal.requests == []
    assert _cart(alice) == kept


def test_page_shows_a_search_steered_to_a_refused_address_as_a_form_error(browser_client, steering):
    page = browser_client.get("/vo/", {"service": "steering"})
    assert page.status_code == 400
    assert f"may not be called: {steering.refused_url} is not a public address".encode() in page.content
    assert steering.internal.requests == []


@pytest.mark.parametrize("kind, endpoint", [("tap", "search"), ("sia2", "search"), ("registry", "registry")])
def test_the_portal_vets_search_services_with_its_ssrf_guard(settings, api, kind, endpoint):
    settings.ESAP_ALLOW_PRIVATE_URLS = False
    archive = Site(ARCHIVE_HOST)
    VOService.objects.create(name="Loopback", slug="loopback", kind=kind, url=f"{archive.url}/{kind}")
    try:
        answer = api.get(f"/api/vo/services/loopback/{endpoint}/")
    finally:
        archive.close()
    assert answer.status_code == 503 and answer.json()["error"] == "vo.unavailable"
    assert "may not be called: The URL " in answer.json()["detail"]
    assert "127.0.0.1 is not a public address" in answer.json()["detail"]
    assert archive.requests == []


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_moves_a_stored_query_from_the_catalogue_row_to_the_carts_holding_it():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = ("staging", "0008_checkout_launched_and_announced"), ("staging", "0009_cart_item_provenance")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old = executor.loader.project_state([before]).apps
    user = old.get_model("auth", "User").objects.create(username="vera")
    cart = old.get_model("staging", "Cart").objects.create(user=user)
    dataset = old.get_model("staging", "Dataset").objects.create(
        source="vo", identifier="ivo://x?1", title="x", metadata={"service_url": "s", "query": {"ra": 1.0}})
    old.get_model("staging", "CartItem").objects.create(cart=cart, dataset=dataset)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([after])

    assert Dataset.objects.get(pk=dataset.pk).metadata == {"service_url": "s"}
    assert CartItem.objects.get(dataset_id=dataset.pk).provenance == {"query": {"ra": 1.0}}
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
