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


def test_options_on_the_docs_page_answers_its_allowed_methods():
    response = Client().options("/api/docs/")

    assert response.status_code == 200
    assert set(response["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def _schema() -> dict:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def _resolve(schema: dict, ref_holder: dict) -> tuple[str, dict]:
    name = ref_holder["$ref"].rsplit("/", 1)[-1]
    return name, schema["components"]["schemas"][name]


def _request_body(schema: dict, path: str, method: str = "post") -> tuple[str, dict]:
    return _resolve(schema, schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"])


def test_each_post_documents_its_own_request_body():
    schema = _schema()
    expected = {
        ("/api/tokens/", "post"): {"name", "days"},
        ("/api/repositories/", "post"): {"url", "ref", "is_public"},
        ("/api/facilities/register/", "post"): {"name", "slug", "hub_url", "profiles"},
        ("/api/datalakes/{slug}/search/", "post"): {"scope", "name", "metadata", "limit"},
        ("/api/cart/items/", "post"): {"dataset"},
        ("/api/cart/workflow/", "put"): {"workflow", "commit"},
        ("/api/cart/facility/", "put"): {"facility", "profile"},
    }
    names = set()
    for (path, method), fields in expected.items():
        name, component = _request_body(schema, path, method)
        assert fields <= set(component["properties"]), (path, name, component["properties"].keys())
        names.add(name)
    assert len(names) == len(expected), names


def test_bearer_api_tokens_are_a_security_scheme():
    schema = _schema()
    schemes = schema["components"]["securitySchemes"]
    bearer = [name for name, scheme in schemes.items()
              if scheme.get("type") == "http" and scheme.get("scheme") == "bearer"]
    assert bearer, schemes
    assert any(bearer[0] in requirement for requirement in schema["paths"]["/api/cart/"]["get"]["security"])


def test_datalake_search_documents_an_object_with_count_and_results():
    schema = _schema()
    response = schema["paths"]["/api/datalakes/{slug}/search/"]["post"]["responses"]["200"]
    body = response["content"]["application/json"]["schema"]
    if "$ref" in body:
        body = _resolve(schema, body)[1]
    assert body.get("type") == "object"
    assert {"count", "results"} <= set(body["properties"])
    assert body["properties"]["results"]["type"] == "array"


def test_retry_and_stop_document_202_and_cancel_200():
    paths = _schema()["paths"]
    assert set(paths["/api/checkouts/{id}/retry/"]["post"]["responses"]) == {"202"}
    assert set(paths["/api/checkouts/{id}/stop/"]["post"]["responses"]) == {"202"}
    assert set(paths["/api/checkouts/{id}/cancel/"]["post"]["responses"]) == {"200"}


def test_paged_lists_document_whether_the_count_is_exact():
    schema = _schema()
    for path in ["/api/datasets/", "/api/tokens/"]:
        body = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        paged = _resolve(schema, body)[1]
        assert paged["properties"]["count_is_exact"]["type"] == "boolean", path
        assert {"count", "count_is_exact", "results"} <= set(paged["required"]), path


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_api_path_answers_a_json_404(method):
    response = getattr(Client(), method)("/api/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == "not_found"
    assert "/api/no-such-thing/" in body["detail"]


def test_an_api_path_missing_its_slash_still_redirects():
    response = Client().get("/api/cart")
    assert response.status_code == 301
    assert response["Location"] == "/api/cart/"
