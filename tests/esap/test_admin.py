"""Operators see in the admin which hub user each portal user launches as, and cannot change it there."""
import pytest

from esap.identity import local_hub_username
from esap.models import LocalHubName
from tests.factories import make_user

pytestmark = pytest.mark.django_db

NAMES = "/admin/esap/localhubname/"


def test_operators_find_a_hub_user_by_its_name_or_by_the_portal_user(admin_client_logged_in):
    ann, bob = make_user("Ann Lee"), make_user("bob")
    ann_hub_name, bob_hub_name = local_hub_username(ann), local_hub_username(bob)

    by_hub_name = admin_client_logged_in.get(NAMES, {"q": ann_hub_name}).content.decode()
    by_portal_user = admin_client_logged_in.get(NAMES, {"q": "bob"}).content.decode()

    assert ann_hub_name in by_hub_name and bob_hub_name not in by_hub_name
    assert bob_hub_name in by_portal_user and ann_hub_name not in by_portal_user


def test_a_name_held_for_a_deleted_user_says_so(admin_client_logged_in):
    user = make_user("carol")
    name = local_hub_username(user)
    user.delete()

    page = admin_client_logged_in.get(NAMES).content.decode()

    assert name in page and LocalHubName.objects.get(name=name).user is None


def test_hub_names_cannot_be_added_changed_or_deleted_in_the_admin(admin_client_logged_in):
    held = LocalHubName.objects.create(user=make_user("dan"), name="dan")

    add = admin_client_logged_in.get(f"{NAMES}add/")
    change = admin_client_logged_in.post(f"{NAMES}{held.pk}/change/", {"name": "someone-else"})
    delete = admin_client_logged_in.post(f"{NAMES}{held.pk}/delete/", {"post": "yes"})

    assert add.status_code == 403 and change.status_code == 403 and delete.status_code == 403
    assert LocalHubName.objects.get(pk=held.pk).name == "dan"
