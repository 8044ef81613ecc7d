"""Fixtures shared by the authorization tests: the world of tests/esap/test_authorization.py."""
import pytest
from django.contrib.auth.models import Group

from esap.models import ApiToken
from staging import services
from staging.checkout.services import checkout_start
from tests.factories import make_dataset, make_facility, make_user, make_workflow

HUB_TOKEN = "hub-secret-7c0ffee"


@pytest.fixture
def no_worker(monkeypatch):
    monkeypatch.setattr("staging.tasks.checkout_run.delay", lambda checkout_id: None)


@pytest.fixture
def world(no_worker):
    """The owner belongs to group `astro`; the facility and the workflow are limited to `astro`;
    `wrong_group` belongs to `radio`; `other` to no group. The owner's cart is frozen by their checkout."""
    owner, other, staff = make_user("owner"), make_user("other"), make_user("staff", staff=True)
    wrong_group = make_user("radio-astronomer")
    staff.is_superuser = True  # an operator
    staff.save()
    astro, radio = Group.objects.create(name="astro"), Group.objects.create(name="radio")
    owner.groups.add(astro)
    wrong_group.groups.add(radio)
    facility = make_facility("swan", token=HUB_TOKEN, visibility="groups")
    facility.groups.add(astro)
    workflow = make_workflow()
    workflow.is_public = False
    workflow.save()
    workflow.groups.add(astro)
    dataset = make_dataset("a.csv")
    services.cart_add_dataset(user=owner, dataset_id=dataset.pk)
    services.cart_choose_workflow(user=owner, workflow_id=workflow.pk)
    services.cart_choose_facility(user=owner, facility_slug=facility.slug)
    checkout = checkout_start(user=owner)
    token, secret = ApiToken.issue(user=owner, name="script")
    return {"users": {"anonymous": None, "other": other, "wrong_group": wrong_group, "owner": owner,
                      "staff": staff},
            "checkout": checkout, "item": owner.cart.items.first(), "token": token, "api_secret": secret,
            "workflow": workflow, "dataset": dataset, "facility": facility, "hub_token": HUB_TOKEN}
