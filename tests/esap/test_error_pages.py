"""Error pages are the portal's own pages: its navigation, and the reason when there is one (production
runs with DEBUG off, as the tests do). The API keeps answering JSON."""
import uuid

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory
from django.views.defaults import permission_denied, server_error

from tests.factories import make_user

pytestmark = pytest.mark.django_db

NAVIGATION = '<a href="/datasets/">Datasets</a>'


def test_a_missing_page_keeps_the_navigation_and_gives_the_reason():
    client = Client()
    client.force_login(make_user("alice"))

    launch = client.get(f"/checkouts/{uuid.uuid4()}/")
    nowhere = client.get("/no/such/page/")

    assert launch.status_code == 404 and nowhere.status_code == 404
    assert NAVIGATION in launch.content.decode() and "No such checkout." in launch.content.decode()
    assert "alice" in launch.content.decode()  # the user is still shown as logged in
    assert "There is nothing at <code>/no/such/page/</code>." in nowhere.content.decode()


def test_an_unknown_api_path_still_answers_json():
    response = Client().get("/api/no-such-endpoint/")

    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_forbidden_and_server_error_pages_keep_the_navigation():
    request = RequestFactory().get("/somewhere/")
    request.user = make_user()

    forbidden = permission_denied(request, PermissionDenied("Operators only.")).content.decode()
    failed = server_error(request).content.decode()

    assert NAVIGATION in forbidden and "Operators only." in forbidden
    assert NAVIGATION in failed and "Something went wrong on our side" in failed
