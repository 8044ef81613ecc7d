"""Datasets, carts, launches, data lakes and VO services cost the same number of queries for a few rows as
for many: nothing is read (or written) once per row shown, on the pages, in the API, in the admin."""
import itertools

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from staging import services
from staging.launch_links import launch_link_query
from staging.models import Cart, Checkout, CheckoutEvent, DataLake, VOService
from staging.sources.base import DatasetRecord
from tests.factories import make_dataset, make_facility, make_user, make_workflow
from tests.query_counts import FEW, MANY, few_and_many, queries_of
from workflows.models import WorkflowVersion

pytestmark = pytest.mark.django_db
_numbers = itertools.count(1)


@pytest.fixture
def alice():
    return make_user()


@pytest.fixture
def alice_client(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def alice_api(alice) -> APIClient:
    api = APIClient()
    api.force_authenticate(alice)
    return api


def add_datasets(count: int) -> None:
    for _ in range(count):
        make_dataset(title=f"Crab light curve {next(_numbers)}")


def a_full_cart(user) -> None:
    """A cart with a workflow pinned to its version and a facility's profile chosen: all the page shows."""
    workflow, facility = make_workflow(commit_sha="a" * 40), make_facility(profiles=("small", "large"))
    services.cart_choose_workflow(user=user, workflow_id=workflow.pk, commit_sha="a" * 40)
    services.cart_choose_facility(user=user, facility_slug=facility.slug, profile_slug="large")


def datasets_in_the_cart_of(user):
    def add(count: int) -> None:
        for _ in range(count):
            services.cart_add_dataset(user=user, dataset_id=make_dataset().pk)
    return add


def launches_of(user):
    def add(count: int) -> None:
        for index in range(count):
            launch(user, state=("ready", "failed", "stopped")[index % 3], server_name=f"esap-{index}")
    return add


def launch(user, *, datasets: list | None = None, **fields) -> Checkout:
    facility = make_facility(profiles=("small",))
    workflow = make_workflow(commit_sha="b" * 40)
    fields = {"state": "ready", "workflow_title": workflow.title, "workflow_commit": "b" * 40, **fields}
    return Checkout.objects.create(
        user=user, facility=facility, facility_slug=facility.slug, profile_slug="small", workflow=workflow,
        workflow_version=workflow.versions.first(), notebook_path=workflow.notebook_path,
        datasets=[{"source": d.source, "identifier": d.identifier, "title": d.title} for d in datasets or []],
        **fields)


def launch_with_events(user, count: int, *, state: str) -> Checkout:
    checkout = launch(user, state=state, server_name="esap-1", error_code="hub.spawn_failed",
                      failed_step="spawning" if state == "failed" else "")
    for index in range(count):
        CheckoutEvent.objects.create(checkout=checkout, phase="staging", message=f"Staged file {index}",
                                     progress=index, data={"server_stopped": True} if index == 0 else {})
    return checkout


def launch_of_datasets(user, count: int) -> Checkout:
    return launch(user, datasets=[make_dataset() for _ in range(count)])


def add_lakes(count: int) -> None:
    for _ in range(count):
        number = next(_numbers)
        DataLake.objects.create(name=f"Lake {number}", slug=f"lake-{number}",
                                server_url="https://rucio.example.org", account="esap")


def add_vo_services(count: int) -> None:
    for _ in range(count):
        number = next(_numbers)
        VOService.objects.create(name=f"Archive {number}", slug=f"archive-{number}",
                                 url="https://vo.example.org/tap")


# Datasets


@pytest.mark.parametrize("who", ["visitor", "scientist with a cart"])
def test_the_dataset_list_page_costs_the_same_for_3_datasets_as_for_30(who, alice, alice_client):
    client = Client() if who == "visitor" else alice_client
    datasets_in_the_cart_of(alice)(2)

    few, many = few_and_many(add_datasets, lambda: queries_of(client, "/datasets/"))

    assert few == many


def test_the_dataset_list_api_costs_the_same_for_3_datasets_as_for_30(alice_api):
    few, many = few_and_many(add_datasets, lambda: queries_of(alice_api, "/api/datasets/"))

    assert few == many


# The cart


@pytest.mark.parametrize("path", ["/cart/", "/api/cart/"])
def test_the_cart_costs_the_same_for_3_items_as_for_30(path, alice, alice_client, alice_api):
    client = alice_api if path.startswith("/api/") else alice_client
    a_full_cart(alice)

    few, many = few_and_many(datasets_in_the_cart_of(alice), lambda: queries_of(client, path))

    assert few == many


def test_the_cart_page_costs_the_same_for_3_workflows_and_facilities_to_choose_from_as_for_30(alice_client):
    def add_choices(count: int) -> None:
        for _ in range(count):
            make_workflow()
            make_facility(profiles=("small", "large"))

    few, many = few_and_many(add_choices, lambda: queries_of(alice_client, "/cart/"))

    assert few == many


# Launches


@pytest.mark.parametrize("path", ["/checkouts/", "/api/checkouts/"])
def test_the_list_of_launches_costs_the_same_for_3_launches_as_for_30(path, alice, alice_client, alice_api):
    client = alice_api if path.startswith("/api/") else alice_client

    few, many = few_and_many(launches_of(alice), lambda: queries_of(client, path))

    assert few == many


@pytest.mark.parametrize("state", ["ready", "failed", "stopped"])
@pytest.mark.parametrize("path", ["/checkouts/{pk}/", "/api/checkouts/{pk}/", "/api/checkouts/{pk}/events/"])
def test_a_launch_costs_the_same_with_3_events_as_with_30(path, state, alice, alice_client, alice_api):
    client = alice_api if path.startswith("/api/") else alice_client
    few, many = launch_with_events(alice, FEW, state=state), launch_with_events(alice, MANY, state=state)

    assert queries_of(client, path.format(pk=few.pk)) == queries_of(client, path.format(pk=many.pk))


def test_a_receipt_costs_the_same_for_3_datasets_as_for_30(alice, alice_client):
    """It checks that the launch could be launched again: each dataset is still in the catalogue, all of
    them looked up at once."""
    few, many = launch_of_datasets(alice, FEW), launch_of_datasets(alice, MANY)

    assert (queries_of(alice_client, f"/checkouts/{few.pk}/receipt/")
            == queries_of(alice_client, f"/checkouts/{many.pk}/receipt/"))


def test_a_launch_link_costs_the_same_for_3_datasets_as_for_30(alice_client):
    workflow = make_workflow()

    def link(count: int) -> str:
        datasets = [{"source": d.source, "identifier": d.identifier} for d in map(make_dataset, [""] * count)]
        return "/launch/?" + launch_link_query(workflow_slug=workflow.slug, commit="", datasets=datasets,
                                               facility="", profile="")

    assert queries_of(alice_client, link(FEW)) == queries_of(alice_client, link(MANY))


# Data lakes and VO services


@pytest.mark.parametrize("path", ["/datasets/lake/", "/api/datalakes/"])
def test_the_lakes_to_search_cost_the_same_for_3_lakes_as_for_30(path, alice_client, alice_api):
    client = alice_api if path.startswith("/api/") else alice_client

    few, many = few_and_many(add_lakes, lambda: queries_of(client, path))

    assert few == many


def found_in_the_lake(monkeypatch, count: int) -> None:
    """The lake's next search finds `count` datasets never seen before (the lake is not asked)."""
    prefix = f"run-{next(_numbers)}"
    names = [f"{prefix}-{index}" for index in range(count)]
    records = [DatasetRecord(source="rucio", identifier=f"lake/user.alice:{name}", title=name,
                             size_bytes=1000, metadata={"scope": "user.alice", "name": name})
               for name in names]
    monkeypatch.setattr("staging.datalakes.rucio.search", lambda instance, **search: records)


def test_a_lake_search_page_costs_the_same_for_3_datasets_found_as_for_30(alice_client, monkeypatch):
    """What a search finds enters the catalogue in one statement, not a few per dataset."""
    DataLake.objects.create(name="Lake", slug="lake", server_url="https://rucio.example.org", account="esap")
    search = {"lake": "lake", "scope": "user.alice", "name": "*", "metadata": ""}

    found_in_the_lake(monkeypatch, FEW)
    few = queries_of(alice_client, "/datasets/lake/", search)
    found_in_the_lake(monkeypatch, MANY)
    many = queries_of(alice_client, "/datasets/lake/", search)

    assert few == many


def test_a_lake_search_over_the_api_costs_the_same_for_3_datasets_found_as_for_30(alice_api, monkeypatch):
    DataLake.objects.create(name="Lake", slug="lake", server_url="https://rucio.example.org", account="esap")

    def search_costs(count: int) -> int:
        found_in_the_lake(monkeypatch, count)  # new datasets, so that each search inserts them all
        with CaptureQueriesContext(connection) as queries:
            answer = alice_api.post("/api/datalakes/lake/search/", {"scope": "user.alice"}, format="json")
        assert answer.status_code == 200 and answer.json()["count"] == count
        return len(queries)

    search_costs(1)  # warm

    assert search_costs(FEW) == search_costs(MANY)


@pytest.mark.parametrize("path", ["/vo/", "/api/vo/services/"])
def test_the_vo_services_to_search_cost_the_same_for_3_services_as_for_30(path, alice_client, alice_api):
    client = alice_api if path.startswith("/api/") else alice_client

    few, many = few_and_many(add_vo_services, lambda: queries_of(client, path))

    assert few == many


# The operators' admin


def add_carts(count: int) -> None:
    """Carts of as many users, each with a workflow pinned and a facility's profile chosen."""
    for _ in range(count):
        a_full_cart(make_user())


def add_launches(count: int) -> None:
    launches_of(make_user())(count)


@pytest.mark.parametrize("changelist, add_rows", [
    ("/admin/staging/checkout/", add_launches),
    ("/admin/staging/dataset/", add_datasets),
    ("/admin/staging/cart/", add_carts),
])
def test_the_admin_lists_cost_the_same_for_3_rows_as_for_30(changelist, add_rows, admin_client_logged_in):
    few, many = few_and_many(add_rows, lambda: queries_of(admin_client_logged_in, changelist))

    assert few == many


def test_a_cart_in_the_admin_costs_the_same_for_3_profiles_and_versions_to_choose_from_as_for_30(
        alice, admin_client_logged_in):
    """Each profile offered is named after its facility, each version after its workflow: read with the
    choices, not once per choice."""
    cart = Cart.objects.create(user=alice)

    def add_choices(count: int) -> None:
        make_facility(profiles=tuple(f"profile-{index}" for index in range(count)))
        workflow = make_workflow()
        for _ in range(count - 1):
            WorkflowVersion.objects.create(
                workflow=workflow, commit_sha=f"{next(_numbers):040x}", content_hash=f"{next(_numbers):064x}",
                title=workflow.title, kernel_name=workflow.kernel_name, notebook=workflow.notebook)

    change_form = f"/admin/staging/cart/{cart.pk}/change/"

    few, many = few_and_many(add_choices, lambda: queries_of(admin_client_logged_in, change_form))

    assert few == many
