"""Launch links pre-fill a cart like a Binder badge, only after the user logs in and confirms; receipts
record what was launched and offer to launch it again."""
import pytest
from django.test import Client

from facilities.models import Visibility
from staging.checkout.services import checkout_cancel, checkout_start
from staging.launch_links import launch_link_for_checkout, launch_link_query
from staging.models import Cart
from tests.factories import make_dataset, make_facility, make_user, make_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_worker(monkeypatch):
    monkeypatch.setattr("staging.tasks.checkout_run.delay", lambda checkout_id: None)


@pytest.fixture
def world():
    workflow = make_workflow(commit_sha="a" * 40)
    return {
        "workflow": workflow,
        "datasets": [make_dataset("lightcurves/crab.csv"), make_dataset("lightcurves/vela.csv")],
        "facility": make_facility("swan", profiles=("small", "large")),
    }


def link(world, **overrides) -> str:
    fields = dict(workflow_slug=world["workflow"].slug, commit="a" * 40, facility="swan", profile="large",
                  datasets=[{"source": "local", "identifier": d.identifier} for d in world["datasets"]])
    fields.update(overrides)
    return "/launch/?" + launch_link_query(**fields)


def logged_in(user=None) -> Client:
    client = Client()
    client.force_login(user or make_user())
    return client


def test_opening_a_link_asks_anonymous_users_to_log_in(world):
    response = Client().get(link(world))

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/launch/")


def test_opening_a_link_only_shows_what_it_would_put_in_the_cart(world):
    user = make_user()

    page = logged_in(user).get(link(world)).content.decode()

    assert "Put these in my cart" in page and "a" * 40 in page and "local:lightcurves/vela.csv" in page
    cart = Cart.objects.filter(user=user).first()
    assert cart is None or (cart.workflow is None and not cart.items.exists())


def test_confirming_fills_the_cart_pinned_to_the_commit_and_launches_nothing(world):
    user = make_user()
    client = logged_in(user)
    target = link(world)

    response = client.post(target.split("?")[0], dict_of(target))

    assert response.status_code == 302 and response["Location"] == "/cart/"
    cart = Cart.objects.get(user=user)
    assert cart.workflow == world["workflow"] and cart.workflow_version.commit_sha == "a" * 40
    assert (cart.facility.slug, cart.profile.slug) == ("swan", "large")
    assert sorted(i.dataset.identifier for i in cart.items.all()) == ["lightcurves/crab.csv", "lightcurves/vela.csv"]
    assert not user.checkouts.exists()


@pytest.mark.parametrize("mode, expected", [
    ("replace", ["lightcurves/crab.csv", "lightcurves/vela.csv"]),
    ("add", ["lightcurves/crab.csv", "lightcurves/vela.csv", "unrelated.csv"]),
])
def test_a_cart_that_holds_datasets_already_is_replaced_by_the_link_unless_the_user_adds(world, mode, expected):
    from staging import services

    user = make_user()
    services.cart_add_dataset(user=user, dataset_id=make_dataset("unrelated.csv").pk)
    client = logged_in(user)
    target = link(world)

    page = client.get(target).content.decode()
    client.post(target.split("?")[0], {**dict_of(target), "mode": mode})

    assert "Your cart already holds 1 dataset." in page and 'id="add-launch-link"' in page
    assert sorted(i.dataset.identifier for i in Cart.objects.get(user=user).items.all()) == expected


def dict_of(url: str) -> dict:
    from urllib.parse import parse_qs, urlsplit
    return {key: values for key, values in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize("overrides, reason", [
    ({"workflow_slug": "nope"}, "no workflow 'nope'"),
    ({"commit": "b" * 40}, "has no version at"),
    ({"facility": "nowhere"}, "no facility 'nowhere'"),
    ({"profile": "gpu"}, "has no profile 'gpu'"),
    ({"datasets": [{"source": "local", "identifier": "missing.csv"}]}, "no dataset 'local:missing.csv'"),
    ({"datasets": [{"source": "x", "identifier": "<script>"}]}, "no dataset"),
])
def test_a_broken_link_says_what_is_wrong_and_changes_nothing(world, overrides, reason):
    user = make_user()
    client = logged_in(user)
    target = link(world, **overrides)

    shown, posted = client.get(target), client.post(target.split("?")[0], dict_of(target))

    for response in (shown, posted):
        assert response.status_code == 400
        assert reason in response.content.decode().replace("&#x27;", "'")
        assert "<script>" not in response.content.decode()
    assert not Cart.objects.filter(user=user, workflow__isnull=False).exists()


def test_a_link_to_a_hidden_facility_is_refused_to_users_who_cannot_see_it(world):
    make_facility("backstage", visibility=Visibility.HIDDEN)

    response = logged_in().get(link(world, facility="backstage", profile=""))

    assert response.status_code == 400 and "no facility" in response.content.decode()


def test_the_receipt_records_the_launch_and_offers_the_same_launch_again(world):
    user = make_user()
    client = logged_in(user)
    target = link(world)
    client.post(target.split("?")[0], dict_of(target))
    checkout = checkout_start(user=user)

    receipt = client.get(f"/checkouts/{checkout.pk}/receipt/").content.decode()

    again = launch_link_for_checkout(checkout)
    assert "a" * 40 in receipt and "local:lightcurves/crab.csv" in receipt and "large" in receipt
    assert again.replace("&", "&amp;") in receipt
    assert dict_of(again) == {**dict_of(target), "checkout": [str(checkout.pk)]}


def test_launching_again_gives_the_datasets_back_the_search_that_found_them_to_their_owner_only(world):
    from staging import services

    owner, other = make_user(), make_user()
    query = {"ra": "83.63", "dec": "22.01", "radius": "0.1"}
    search = {"query": query, "service_url": "https://vo.example.org/tap", "service_name": "Example TAP",
              "datalink_url": "https://vo.example.org/dlmeta"}
    services.cart_add_dataset(user=owner, dataset_id=world["datasets"][0].pk, provenance=search)
    services.cart_add_dataset(user=owner, dataset_id=world["datasets"][1].pk)
    services.cart_choose_workflow(user=owner, workflow_id=world["workflow"].pk)
    services.cart_choose_facility(user=owner, facility_slug="swan")
    first = checkout_start(user=owner)
    checkout_cancel(user=owner, pk=first.pk)
    again = launch_link_for_checkout(first)

    for user in (owner, other):
        logged_in(user).post(again.split("?")[0], {**dict_of(again), "mode": "replace"})

    lines = {i.dataset.identifier: i.provenance for i in Cart.objects.get(user=owner).items.all()}
    assert lines == {"lightcurves/crab.csv": search, "lightcurves/vela.csv": {}}
    assert checkout_start(user=owner).datasets[0]["metadata"] == search
    assert [i.provenance for i in Cart.objects.get(user=other).items.all()] == [{}, {}]


def test_another_users_receipt_is_404(world):
    owner = make_user()
    client = logged_in(owner)
    target = link(world)
    client.post(target.split("?")[0], dict_of(target))
    checkout = checkout_start(user=owner)

    assert logged_in().get(f"/checkouts/{checkout.pk}/receipt/").status_code == 404


@pytest.mark.parametrize("gone, reason", [
    ("workflow", "has been deleted"), ("dataset", "no dataset"), ("facility", "no facility"),
])
def test_a_receipt_whose_launch_cannot_be_repeated_says_why_instead_of_offering_it(world, gone, reason):
    user = make_user()
    client = logged_in(user)
    target = link(world)
    client.post(target.split("?")[0], dict_of(target))
    checkout = checkout_start(user=user)
    {"workflow": world["workflow"], "dataset": world["datasets"][0], "facility": world["facility"]}[gone].delete()

    receipt = client.get(f"/checkouts/{checkout.pk}/receipt/")

    html = receipt.content.decode()
    assert receipt.status_code == 200
    assert 'id="launch-again"' not in html and "/launch/?" not in html
    assert "cannot be launched again" in html and reason in html
