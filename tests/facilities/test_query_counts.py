"""The facility catalogue costs the same number of queries for a few facilities or profiles as for many:
nothing is read once per row shown (pages, API, the operators' admin)."""
import itertools

import pytest

from facilities.models import Facility
from tests.factories import make_facility
from tests.query_counts import FEW, MANY, few_and_many, queries_of

pytestmark = pytest.mark.django_db
_numbers = itertools.count(1)


def add_facilities(count: int) -> None:
    for _ in range(count):
        make_facility(f"site-{next(_numbers)}", profiles=("small", "medium", "large"))


def facility_with_profiles(count: int) -> Facility:
    return make_facility(profiles=tuple(f"profile-{index}" for index in range(count)))


def test_the_facility_list_page_costs_the_same_for_3_facilities_as_for_30(scientist):
    few, many = few_and_many(add_facilities, lambda: queries_of(scientist, "/facilities/"))

    assert few == many


def test_the_facility_list_api_costs_the_same_for_3_facilities_as_for_30(scientist_api):
    few, many = few_and_many(add_facilities, lambda: queries_of(scientist_api, "/api/facilities/"))

    assert few == many


def test_a_facility_page_costs_the_same_with_3_profiles_as_with_30(scientist):
    few, many = facility_with_profiles(FEW), facility_with_profiles(MANY)

    assert (queries_of(scientist, f"/facilities/{few.slug}/")
            == queries_of(scientist, f"/facilities/{many.slug}/"))


def test_a_facility_in_the_api_costs_the_same_with_3_profiles_as_with_30(scientist_api):
    few, many = facility_with_profiles(FEW), facility_with_profiles(MANY)

    assert (queries_of(scientist_api, f"/api/facilities/{few.slug}/")
            == queries_of(scientist_api, f"/api/facilities/{many.slug}/"))


def test_the_admin_list_of_facilities_costs_the_same_for_3_as_for_30(admin_client_logged_in):
    few, many = few_and_many(add_facilities,
                             lambda: queries_of(admin_client_logged_in, "/admin/facilities/facility/"))

    assert few == many


def test_a_facility_in_the_admin_costs_the_same_with_3_profiles_as_with_30(admin_client_logged_in):
    """Each profile row of the form is named after its facility: read with the rows, not once per row."""
    few, many = facility_with_profiles(FEW), facility_with_profiles(MANY)

    assert (queries_of(admin_client_logged_in, f"/admin/facilities/facility/{few.pk}/change/")
            == queries_of(admin_client_logged_in, f"/admin/facilities/facility/{many.pk}/change/"))
