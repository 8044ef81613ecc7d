"""The API documents itself with an OpenAPI schema served by the app."""
import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_openapi_schema_lists_the_catalogue_cart_and_checkout_endpoints():
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in ["/api/facilities/", "/api/workflows/", "/api/datasets/", "/api/cart/", "/api/checkouts/",
                 "/api/checkouts/{id}/events/"]:
        assert path in schema["paths"], path
    parameters = {p["name"] for p in schema["paths"]["/api/datasets/"]["get"]["parameters"]}
    assert {"q", "page", "page_size", "source"} <= parameters


def test_interactive_docs_page_is_served():
    assert Client().get("/api/docs/").status_code == 200
