"""The account's tokens, the home page's search and the operators' list of hub users cost the same number of
queries for a few rows as for many: nothing is read once per row shown."""
import itertools

import pytest
from django.test import Client
from rest_framework.test import APIClient

from esap.models import ApiToken, LocalHubName
from tests.factories import make_dataset, make_facility, make_user, make_workflow
from tests.query_counts import few_and_many, queries_of

pytestmark = pytest.mark.django_db
_numbers = itertools.count(1)


@pytest.fixture
def alice():
    return make_user()


def tokens_of(user):
    def add(count: int) -> None:
        for _ in range(count):
            ApiToken.issue(user=user, name=f"script {next(_numbers)}")
    return add


def add_hub_names(count: int) -> None:
    """Names of portal users, and of users deleted since."""
    for index in range(count):
        user = make_user() if index % 2 else None
        LocalHubName.objects.create(user=user, name=f"hub-user-{next(_numbers)}")


def add_crab_entries(count: int) -> None:
    for _ in range(count):
        number = next(_numbers)
        make_dataset(title=f"Crab light curve {number}")
        make_facility(f"crab-{number}", keywords="crab")
        make_workflow(keywords="crab")


def test_the_token_page_costs_the_same_for_3_tokens_as_for_30(alice):
    client = Client()
    client.force_login(alice)

    few, many = few_and_many(tokens_of(alice), lambda: queries_of(client, "/account/tokens/"))

    assert few == many


def test_the_token_list_api_costs_the_same_for_3_tokens_as_for_30(alice):
    api = APIClient()
    api.force_authenticate(alice)

    few, many = few_and_many(tokens_of(alice), lambda: queries_of(api, "/api/tokens/"))

    assert few == many


def test_the_home_page_search_costs_the_same_for_3_matches_of_each_kind_as_for_30(alice):
    client = Client()
    client.force_login(alice)

    few, many = few_and_many(add_crab_entries, lambda: queries_of(client, "/", {"q": "crab"}))

    assert few == many


def test_the_admin_list_of_hub_users_costs_the_same_for_3_as_for_30(admin_client_logged_in):
    changelist = "/admin/esap/localhubname/"

    few, many = few_and_many(add_hub_names, lambda: queries_of(admin_client_logged_in, changelist))

    assert few == many
