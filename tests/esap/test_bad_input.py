"""Bad input gets a clear 4xx with a reason, never a 500, and hostile text is only ever echoed escaped."""
import pytest
from django.test import Client
from rest_framework.test import APIClient

from staging.models import Cart, Checkout
from tests.factories import make_dataset, make_user, make_workflow

pytestmark = pytest.mark.django_db

HOSTILE = [
    "<script>alert('x')</script>",
    "\"><img src=x onerror=alert(1)>",
    "'; DROP TABLE staging_dataset; --",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ☃ 漢字 العربية \u202e",
    "a" * 199,
    "%00%27%22",
]
SEARCH_ENDPOINTS = ["/api/facilities/", "/api/workflows/", "/api/datasets/"]


@pytest.fixture
def api():
    client = APIClient()
    client.force_authenticate(make_user())
    return client


@pytest.mark.parametrize("endpoint", SEARCH_ENDPOINTS)
@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_search_text_is_answered_not_crashed(api, endpoint, query):
    response = api.get(endpoint, {"q": query})

    assert response.status_code == 200
    assert response.json()["count"] == 0


@pytest.mark.parametrize("endpoint", SEARCH_ENDPOINTS)
def test_overlong_search_text_is_a_400_with_the_limit(api, endpoint):
    response = api.get(endpoint, {"q": "x" * 5000})

    assert response.status_code == 400
    assert response.json()["fields"]["q"] == ["At most 200 characters."]


@pytest.mark.parametrize("endpoint", SEARCH_ENDPOINTS)
@pytest.mark.parametrize("page_size", ["0", "-1", "101", "100000", "ten", "1e3", ""])
def test_page_size_outside_the_cap_is_a_400(api, endpoint, page_size):
    response = api.get(endpoint, {"page_size": page_size})

    assert response.status_code == 400
    assert "page_size" in response.json()["fields"]


PAGED_ENDPOINTS = [*SEARCH_ENDPOINTS, "/api/checkouts/", "/api/tokens/"]


@pytest.mark.parametrize("endpoint", PAGED_ENDPOINTS)
@pytest.mark.parametrize("page", ["abc", "0", "-3", "", "1.5", "²", "99999999999999999999999"])
def test_a_malformed_page_is_a_400_naming_the_parameter_like_a_bad_page_size(api, endpoint, page):
    response = api.get(endpoint, {"page": page})

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid"
    assert body["fields"] == {"page": ["Must be an integer of at least 1 (or 'last')."]}


@pytest.mark.parametrize("endpoint", ["/api/datasets/", "/api/checkouts/"])
def test_a_page_past_the_end_is_a_404_naming_the_last_page(api, endpoint):
    for _ in range(3):
        make_dataset()
        Checkout.objects.create(user=api.handler._force_user, state="failed")

    response = api.get(endpoint, {"page": 3, "page_size": 2})

    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "There is no page 3: the last page is 2."}
    last = api.get(endpoint, {"page": "last", "page_size": 2}).json()
    assert len(last["results"]) == 1 and last["previous"]


def test_past_the_end_of_an_empty_list_the_last_page_is_the_empty_first(api):
    assert api.get("/api/datasets/", {"page": 1}).json()["results"] == []
    beyond = api.get("/api/datasets/", {"page": 2}).json()
    assert beyond["detail"] == "There is no page 2: the last page is 1."


@pytest.mark.parametrize("path", ["/api/datasets/999999/", "/api/workflows/999999/", "/api/facilities/nope/",
                                  "/api/checkouts/00000000-0000-0000-0000-000000000000/"])
def test_unknown_ids_are_404(api, path):
    response = api.get(path)

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_unknown_id_format_is_404_not_500(api):
    assert api.get("/api/checkouts/not-a-uuid/").status_code == 404
    assert api.get("/api/datasets/abc/").status_code == 404


ODD_NUMBERS = ["²", "١٢", "99999999999999999999999", "9223372036854775808"]


@pytest.mark.parametrize("number", ODD_NUMBERS)
def test_numbers_in_other_scripts_or_beyond_any_id_are_refused_with_a_reason(api, number):
    checkout = Checkout.objects.create(user=api.handler._force_user, state="failed")

    assert api.get("/api/datasets/", {"page_size": number}).status_code == 400
    assert api.get(f"/api/checkouts/{checkout.pk}/events/", {"after": number}).status_code == 400
    assert api.get(f"/api/datasets/{number}/").status_code == 404
    assert api.get(f"/api/workflows/{number}/versions/").status_code == 404


@pytest.mark.parametrize("number", ODD_NUMBERS)
def test_pages_given_odd_numbers_answer_and_keep_the_cart(number):
    user, workflow = make_user(), make_workflow()
    browser = Client()
    browser.force_login(user)
    browser.post("/cart/workflow/", {"workflow": workflow.pk})
    failed = Checkout.objects.create(user=user, state="failed")

    assert browser.post("/cart/add/", {"dataset": number}).status_code == 404
    assert browser.post("/cart/workflow/", {"workflow": number}).status_code == 404
    assert browser.post(f"/cart/remove/{number}/").status_code in (302, 404)
    assert browser.get("/vo/", {"page": number}).status_code == 200
    stream = browser.get(f"/checkouts/{failed.pk}/stream/", HTTP_LAST_EVENT_ID=number)
    assert stream.status_code == 200 and b"event: failed" in b"".join(stream.streaming_content)
    assert Cart.objects.get(user=user).workflow == workflow


@pytest.mark.parametrize("body, content_type", [
    ("{not json", "application/json"),
    ("dataset=1", "application/x-www-form-urlencoded"),
    ("<xml/>", "application/xml"),
    ("[]", "application/json"),
    ('{"dataset": "one"}', "application/json"),
    ('{"dataset": -4}', "application/json"),
    ('{"dataset": 1e999}', "application/json"),
])
def test_non_json_and_malformed_bodies_are_4xx_with_a_reason(api, body, content_type):
    response = api.generic("POST", "/api/cart/items/", body, content_type=content_type)

    assert 400 <= response.status_code < 500
    assert response.json()["detail"]


@pytest.mark.parametrize("query", HOSTILE)
def test_pages_echo_hostile_search_text_escaped(query):
    page = Client().get("/datasets/", {"q": query})

    assert page.status_code == 200
    html = page.content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html


def test_hostile_catalogue_text_is_rendered_escaped():
    make_dataset(title="<script>alert('stored')</script>", description="<b onmouseover=x>bold</b>")

    html = Client().get("/datasets/").content.decode()

    assert "<script>alert('stored')" not in html
    assert "&lt;script&gt;alert(&#x27;stored&#x27;)&lt;/script&gt;" in html


def test_overlong_search_on_a_page_is_a_form_message_not_a_crash():
    page = Client().get("/workflows/", {"q": "y" * 5000})

    assert page.status_code == 400
    assert "at most 200 characters" in page.content.decode()


@pytest.mark.parametrize("path, params", [
    ("/datasets/", {"source": "\x00"}), ("/api/workflows/", {"kernel": "\x00"}), ("/api/datasets/", {"q": "a\x00b"}),
    ("/launch/", {"workflow": "\x00"}), ("/facilities/", {"q\x00": "x"}),
])
def test_a_nul_character_anywhere_is_a_400_before_it_reaches_the_database(path, params):
    client = Client()
    client.force_login(make_user())

    response = client.get(path, params)

    assert response.status_code == 400 and "NUL character" in response.content.decode()


def test_a_nul_character_in_a_form_field_is_a_400_and_changes_nothing():
    client = Client()
    client.force_login(make_user())

    response = client.post("/cart/facility/", {"facility_profile": "swan\x00/small"})

    assert response.status_code == 400 and "NUL character" in response.content.decode()


@pytest.mark.parametrize("path", ["/datasets/", "/"])
def test_a_too_long_search_keeps_the_text_says_why_and_lists_nothing(path, settings):
    make_dataset(title="Crab light curve")
    query = "crab " * 49  # 245 characters: more than the limit the search box allows

    page = Client().get(path, {"q": query})

    html = page.content.decode()
    assert page.status_code == 400
    assert f"at most {settings.ESAP_MAX_QUERY_LENGTH} characters" in html
    assert f'value="{query.strip()}"' in html
    assert "Crab light curve" not in html
    assert f'maxlength="{settings.ESAP_MAX_QUERY_LENGTH}"' in html and 'maxlength="400"' not in html
