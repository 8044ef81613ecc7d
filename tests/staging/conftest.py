"""Fixtures of the staging tests: a scientist and their REST client."""
import pytest
from rest_framework.test import APIClient

from tests.factories import make_user


@pytest.fixture
def alice():
    return make_user("alice")


@pytest.fixture
def api(alice):
    client = APIClient()
    client.force_authenticate(alice)
    return client
