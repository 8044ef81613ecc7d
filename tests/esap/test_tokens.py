"""Personal API tokens: made in the portal, shown once, stored hashed, usable as `Bearer`, revocable,
and nobody else's business."""
import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from esap.models import ApiToken
from tests.factories import make_dataset, make_user

pytestmark = pytest.mark.django_db


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_token_made_on_the_page_is_shown_once_and_works_for_the_rest_api():
    user = make_user()
    page = Client()
    page.force_login(user)

    made = page.post("/account/tokens/", {"name": "my analysis script"}).content.decode()
    token = made.split('<pre id="fresh-token">')[1].split("</pre>")[0]

    assert token.startswith("esap_")
    assert token not in page.get("/account/tokens/").content.decode()
    script = bearer(token)
    assert script.post("/api/cart/items/", {"dataset": make_dataset().pk}, format="json").status_code == 201
    assert len(script.get("/api/cart/").json()["items"]) == 1
    assert ApiToken.objects.get(user=user).last_used_at is not None


def test_tokens_are_stored_as_digests_only():
    token, secret = ApiToken.issue(user=make_user(), name="x")

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM esap_apitoken WHERE id = %s", [token.pk])
        stored = " ".join(str(value) for value in cursor.fetchone())
    assert secret not in stored and secret[9:] not in stored


def test_a_revoked_or_made_up_token_is_401():
    user = make_user()
    api = APIClient()
    api.force_authenticate(user)
    made = api.post("/api/tokens/", {"name": "ci"}, format="json").json()

    assert bearer(made["token"]).get("/api/cart/").status_code == 200
    assert api.delete(f"/api/tokens/{made['id']}/").status_code == 204
    assert bearer(made["token"]).get("/api/cart/").status_code == 401
    assert bearer("esap_made-up").get("/api/cart/").status_code == 401
    assert "token" not in api.get("/api/tokens/").json()


def test_another_users_token_cannot_be_listed_or_revoked():
    owner_token, _ = ApiToken.issue(user=make_user(), name="theirs")
    api = APIClient()
    api.force_authenticate(make_user())
    page = Client()
    page.force_login(make_user())

    assert api.get("/api/tokens/").json()["count"] == 0
    assert api.delete(f"/api/tokens/{owner_token.pk}/").status_code == 404
    assert page.post(f"/account/tokens/{owner_token.pk}/revoke/").status_code == 404
    assert ApiToken.objects.get(pk=owner_token.pk).revoked_at is None
