"""Personal API tokens: made in the portal, shown once, stored hashed, usable as `Bearer`, revocable,
and nobody else's business."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime
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

    made = page.post("/account/tokens/", {"name": "my analysis script"}, follow=True).content.decode()
    token = made.split('<pre id="fresh-token">')[1].split("</pre>")[0]

    assert token.startswith("esap_")
    assert token not in page.get("/account/tokens/").content.decode()
    script = bearer(token)
    assert script.post("/api/cart/items/", {"dataset": make_dataset().pk}, format="json").status_code == 201
    assert len(script.get("/api/cart/").json()["items"]) == 1
    assert ApiToken.objects.get(user=user).last_used_at is not None


def test_reloading_the_page_after_making_a_token_makes_no_other_and_the_secret_waits_encrypted():
    user = make_user()
    page = Client()
    page.force_login(user)

    made = page.post("/account/tokens/", {"name": "nightly"})
    waiting = str(dict(page.session.items()))
    shown = page.get(made["Location"]).content.decode()
    reloaded = page.get(made["Location"]).content.decode()

    assert made.status_code == 302 and made["Location"] == "/account/tokens/"
    secret = shown.split('<pre id="fresh-token">')[1].split("</pre>")[0]
    assert secret.startswith("esap_") and secret not in waiting and secret not in reloaded
    assert ApiToken.objects.filter(user=user).count() == 1


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
    assert "not among your active tokens" in page.post(f"/account/tokens/{owner_token.pk}/revoke/",
                                                       follow=True).content.decode()
    assert ApiToken.objects.get(pk=owner_token.pk).revoked_at is None


def test_revoking_a_token_twice_says_it_is_revoked_already_on_the_tokens_page():
    token, _ = ApiToken.issue(user=make_user(), name="old script")
    page = Client()
    page.force_login(token.user)

    page.post(f"/account/tokens/{token.pk}/revoke/")
    second = page.post(f"/account/tokens/{token.pk}/revoke/", follow=True)

    assert second.redirect_chain == [("/account/tokens/", 302)]
    assert "That token is not among your active tokens: it is revoked already." in second.content.decode()


def test_a_token_lives_the_longest_allowed_or_fewer_days_if_asked(settings):
    settings.ESAP_API_TOKEN_DAYS = 30
    api = APIClient()
    api.force_authenticate(make_user())

    default = api.post("/api/tokens/", {"name": "nightly"}, format="json").json()
    week = api.post("/api/tokens/", {"name": "demo", "days": 7}, format="json").json()
    too_long = api.post("/api/tokens/", {"name": "forever", "days": 31}, format="json")

    assert days_left(default) == 30 and days_left(week) == 7
    assert too_long.status_code == 400 and "days" in too_long.json()["fields"]


def days_left(token: dict) -> int:
    return round((parse_datetime(token["expires_at"]) - timezone.now()) / timedelta(days=1))


def test_an_expired_token_is_refused_saying_so_and_where_to_make_a_new_one():
    token, secret = ApiToken.issue(user=make_user(), name="old script")
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = bearer(secret).get("/api/cart/")

    assert response.status_code == 401
    assert "expired on" in response.json()["detail"] and "/account/tokens/" in response.json()["detail"]
    page = Client()
    page.force_login(token.user)
    assert "<strong>expired</strong>" in page.get("/account/tokens/").content.decode()


def test_a_scripts_calls_record_its_last_use_to_the_minute_not_with_a_write_each():
    token, secret = ApiToken.issue(user=make_user(), name="busy script")
    a_moment_ago = timezone.now() - timedelta(seconds=20)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=a_moment_ago)

    bearer(secret).get("/api/cart/")
    assert ApiToken.objects.get(pk=token.pk).last_used_at == a_moment_ago

    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    bearer(secret).get("/api/cart/")
    assert timezone.now() - ApiToken.objects.get(pk=token.pk).last_used_at < timedelta(seconds=5)


def test_a_token_cannot_make_another_token_so_expiry_cannot_be_outrun():
    _, secret = ApiToken.issue(user=make_user(), name="leaked")

    response = bearer(secret).post("/api/tokens/", {"name": "renewed"}, format="json")

    assert response.status_code == 403 and "not with another token" in response.json()["detail"]
    assert ApiToken.objects.count() == 1
