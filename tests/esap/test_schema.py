"""The API documents itself with an OpenAPI schema served by the app."""
import pytest
from django.test import Client
from django.utils.module_loading import import_string
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from esap.urls import api as api_urls
from tests.factories import make_user

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


def _successes(operation: dict) -> set[str]:
    return {code for code in operation["responses"] if code.startswith("2")}


def test_retry_and_stop_document_202_and_cancel_200():
    paths = _schema()["paths"]
    assert _successes(paths["/api/checkouts/{id}/retry/"]["post"]) == {"202"}
    assert _successes(paths["/api/checkouts/{id}/stop/"]["post"]) == {"202"}
    assert _successes(paths["/api/checkouts/{id}/cancel/"]["post"]) == {"200"}


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


def test_the_schema_is_valid_openapi():
    validate_schema(_schema())


def _operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def _errors(operation: dict) -> set[str]:
    return {code for code in operation["responses"] if code >= "400"}


ERRORS = {
    ("/api/datasets/", "get"): {"400", "404"},  # a bad query parameter; a page past the last one
    ("/api/datasets/{id}/", "get"): {"404"},
    ("/api/vo/services/", "get"): set(),
    ("/api/cart/", "get"): {"401"},
    ("/api/cart/items/", "post"): {"400", "401", "403"},  # 403: a browser session without its CSRF token
    ("/api/checkouts/", "get"): {"400", "401", "404"},
    ("/api/checkouts/{id}/", "get"): {"401", "404"},
    ("/api/checkouts/{id}/retry/", "post"): {"400", "401", "403", "404"},
    ("/api/repositories/{id}/", "get"): {"401", "403", "404"},  # 403: not an operator
    ("/api/facilities/register/", "post"): {"400", "401", "403"},
    ("/api/datalakes/{slug}/search/", "post"): {"400", "401", "403", "404", "503"},  # 503: Rucio is down
    ("/api/vo/services/{slug}/search/", "get"): {"400", "404", "503"},  # 503: the VO service is down
    ("/api/vo/services/{slug}/cart/", "post"): {"400", "401", "403", "404", "503"},
}


@pytest.mark.parametrize("path, method", ERRORS)
def test_each_operation_documents_the_errors_it_can_answer(path, method):
    assert _errors(_schema()["paths"][path][method]) == ERRORS[path, method]


def test_every_error_answer_has_the_portal_error_body():
    schema = _schema()
    body = schema["components"]["schemas"]["Error"]
    assert set(body["required"]) == {"error", "detail"} and "fields" in body["properties"]
    for path, method, operation in _operations(schema):
        for code in _errors(operation):
            answer = operation["responses"][code]
            assert answer["description"], (method, path, code)
            assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


UNKNOWN = {"integer": "999999", "uuid": "00000000-0000-0000-0000-000000000000", "string": "no-such-thing"}


def _unknown(path: str, operation: dict) -> str:
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            kind = parameter["schema"].get("format") or parameter["schema"]["type"]
            path = path.replace("{" + parameter["name"] + "}", UNKNOWN[kind])
    return path


def test_a_stranger_is_answered_401_exactly_where_the_schema_says():
    schema = _schema()
    for path, method, operation in _operations(schema):
        status = getattr(APIClient(), method)(_unknown(path, operation), {}, format="json").status_code

        assert (status == 401) == ("401" in operation["responses"]), (method, path, status)


@pytest.mark.parametrize("staff", [False, True], ids=["user", "operator"])
def test_asked_about_unknown_objects_or_with_no_input_every_operation_answers_as_documented(staff):
    client = APIClient()
    client.force_authenticate(make_user(staff=staff))
    for path, method, operation in _operations(_schema()):
        response = getattr(client, method)(_unknown(path, operation), {}, format="json")

        assert response.status_code < 300 or str(response.status_code) in operation["responses"], (
            method, path, response.status_code, response.content[:200])
        if response.status_code >= 400:
            assert {"error", "detail"} <= set(response.json()), (method, path)


def test_the_views_documented_as_calling_a_remote_service_are_views_of_the_api():
    from esap.schema import UPSTREAM_VIEWS

    routed = {getattr(pattern.callback, "cls", None) for pattern in api_urls}

    for name in UPSTREAM_VIEWS:
        assert import_string(name) in routed, name
