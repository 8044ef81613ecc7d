"""Facilities and workflows limited to groups: only members (and operators) see them, in search, pages,
the cart, launch links and checkout, however the request is crafted."""
import pytest
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.test import APIClient

from esap.errors import UserError
from facilities.models import Visibility
from staging import services
from staging.checkout.services import checkout_start
from staging.launch_links import launch_link_query
from staging.models import Checkout
from tests.factories import make_dataset, make_facility, make_user, make_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_worker(monkeypatch):
    monkeypatch.setattr("staging.tasks.checkout_run.delay", lambda checkout_id: None)


@pytest.fixture
def cern():
    group = Group.objects.create(name="cern-users")
    facility = make_facility("lxplus-hub", name="CERN members hub", keywords="cern",
                             visibility=Visibility.GROUPS)
    facility.groups.add(group)
    workflow = make_workflow(keywords="internal")
    workflow.is_public = False
    workflow.save()
    workflow.groups.add(group)
    member = make_user("member")
    member.groups.add(group)
    return {"group": group, "facility": facility, "workflow": workflow, "member": member}


def api_for(user) -> APIClient:
    api = APIClient()
    if user:
        api.force_authenticate(user)
    return api


@pytest.mark.parametrize("who", ["anonymous", "outsider"])
def test_non_members_see_neither_the_facility_nor_the_workflow(cern, who):
    user = make_user("outsider") if who == "outsider" else None
    api = api_for(user)
    wid = cern["workflow"].pk

    assert api.get("/api/facilities/", {"q": "cern"}).json()["count"] == 0
    assert api.get("/api/facilities/lxplus-hub/").status_code == 404
    assert api.get("/api/workflows/").json()["count"] == 0
    assert api.get(f"/api/workflows/{wid}/").status_code == 404
    assert api.get(f"/api/workflows/{wid}/versions/").status_code == 404
    page = Client()
    if user:
        page.force_login(user)
    assert page.get("/facilities/lxplus-hub/").status_code == 404
    assert page.get(f"/workflows/{wid}/").status_code == 404
    assert "CERN members hub" not in page.get("/", {"q": "cern"}).content.decode()


def test_members_and_operators_see_both(cern):
    for user in (cern["member"], make_user(staff=True)):
        api = api_for(user)
        assert api.get("/api/facilities/", {"q": "cern"}).json()["count"] == 1
        assert api.get(f"/api/workflows/{cern['workflow'].pk}/").status_code == 200


def test_an_outsider_cannot_put_them_in_a_cart_even_by_crafting_requests(cern):
    api = api_for(make_user("outsider"))

    assert api.put("/api/cart/facility/", {"facility": "lxplus-hub"}, format="json").status_code == 404
    assert api.put("/api/cart/workflow/", {"workflow": cern["workflow"].pk}, format="json").status_code == 404
    page = Client()
    page.force_login(make_user("outsider2"))
    link = "/launch/?" + launch_link_query(workflow_slug=cern["workflow"].slug, commit="", datasets=[],
                                           facility="lxplus-hub", profile="")
    assert page.get(link).status_code == 400


def test_a_member_removed_from_the_group_can_no_longer_check_out_what_is_in_the_cart(cern):
    member = cern["member"]
    services.cart_add_dataset(user=member, dataset_id=make_dataset().pk)
    services.cart_choose_workflow(user=member, workflow_id=cern["workflow"].pk)
    services.cart_choose_facility(user=member, facility_slug="lxplus-hub")

    member.groups.remove(cern["group"])

    with pytest.raises(UserError, match="facility 'lxplus-hub'"):
        checkout_start(user=member)
    assert not Checkout.objects.filter(user=member).exists()
    assert member.cart.items.count() == 1  # nothing lost


def test_a_member_removed_from_the_group_cannot_retry_a_failed_launch_there(cern):
    member = cern["member"]
    failed = Checkout.objects.create(user=member, state="failed", failed_step="spawning",
                                     facility=cern["facility"], workflow=cern["workflow"])

    member.groups.remove(cern["group"])
    response = api_for(member).post(f"/api/checkouts/{failed.pk}/retry/")

    assert response.status_code == 400
    assert "You may no longer launch the facility 'lxplus-hub'" in response.json()["detail"]
    failed.refresh_from_db()
    assert failed.state == "failed"
    member.groups.add(cern["group"])
    assert api_for(member).post(f"/api/checkouts/{failed.pk}/retry/").status_code == 202
