"""The cart over REST: one persistent cart per user, invisible to everyone else."""
import pytest
from rest_framework.test import APIClient

from staging.models import Cart
from tests.factories import make_dataset, make_facility, make_user, make_workflow

pytestmark = pytest.mark.django_db


def test_a_new_user_has_an_empty_cart(api):
    cart = api.get("/api/cart/").json()

    assert cart == {"workflow": None, "workflow_commit": None, "facility": None, "profile": None,
                    "frozen_by": None, "items": []}


def test_add_datasets_choose_workflow_facility_and_profile(api):
    dataset = make_dataset(title="Crab light curve")
    workflow = make_workflow()
    make_facility("swan")

    assert api.post("/api/cart/items/", {"dataset": dataset.pk}, format="json").status_code == 201
    assert api.put("/api/cart/workflow/", {"workflow": workflow.pk}, format="json").status_code == 200
    chosen = api.put("/api/cart/facility/", {"facility": "swan", "profile": "medium"}, format="json")

    assert chosen.status_code == 200
    cart = api.get("/api/cart/").json()
    assert [item["dataset"]["title"] for item in cart["items"]] == ["Crab light curve"]
    assert (cart["workflow"], cart["facility"], cart["profile"]) == (workflow.pk, "swan", "medium")


def test_adding_the_same_dataset_twice_keeps_one_line(api):
    dataset = make_dataset()

    api.post("/api/cart/items/", {"dataset": dataset.pk}, format="json")
    api.post("/api/cart/items/", {"dataset": dataset.pk}, format="json")

    assert len(api.get("/api/cart/").json()["items"]) == 1


def test_facility_without_profile_takes_its_first_profile(api):
    make_facility("swan", profiles=("tiny", "huge"))

    assert api.put("/api/cart/facility/", {"facility": "swan"}, format="json").json()["profile"] == "tiny"


def test_a_profile_of_another_facility_is_refused_with_a_reason(api):
    make_facility("swan", profiles=("small",))

    response = api.put("/api/cart/facility/", {"facility": "swan", "profile": "gpu"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "cart.profile_mismatch"


def test_unknown_dataset_workflow_and_facility_are_404(api):
    assert api.post("/api/cart/items/", {"dataset": 999999}, format="json").status_code == 404
    assert api.put("/api/cart/workflow/", {"workflow": 999999}, format="json").status_code == 404
    assert api.put("/api/cart/facility/", {"facility": "nowhere"}, format="json").status_code == 404


def test_remove_a_line(api):
    item = api.post("/api/cart/items/", {"dataset": make_dataset().pk}, format="json").json()

    assert api.delete(f"/api/cart/items/{item['id']}/").status_code == 204
    assert api.get("/api/cart/").json()["items"] == []


def test_another_users_cart_line_is_404_and_stays(api):
    bob = make_user("bob")
    bobs_api = APIClient()
    bobs_api.force_authenticate(bob)
    bobs_item = bobs_api.post("/api/cart/items/", {"dataset": make_dataset().pk}, format="json").json()

    response = api.delete(f"/api/cart/items/{bobs_item['id']}/")

    assert response.status_code == 404
    assert len(bobs_api.get("/api/cart/").json()["items"]) == 1
    assert api.get("/api/cart/").json()["items"] == []


def test_anonymous_users_have_no_cart():
    response = APIClient().get("/api/cart/")

    assert response.status_code == 401 and response["WWW-Authenticate"] == "Bearer"
    assert APIClient().post("/api/cart/items/", {"dataset": 1}, format="json").status_code == 401


def test_the_cart_survives_logout_and_a_new_session(alice):
    dataset = make_dataset(title="Persistent")
    first = APIClient()
    first.login(username="alice", password=alice.raw_password)
    first.post("/api/cart/items/", {"dataset": dataset.pk}, format="json")
    first.logout()

    second = APIClient()
    second.login(username="alice", password=alice.raw_password)

    assert [i["dataset"]["title"] for i in second.get("/api/cart/").json()["items"]] == ["Persistent"]
    assert Cart.objects.filter(user=alice).count() == 1
