"""The account pages (allauth's: login, sign-up, password, e-mail addresses) are the portal's pages, and
promise no mail where the portal sends none."""
import pytest
from django.test import Client

from tests.factories import make_user

pytestmark = pytest.mark.django_db

SMTP = "django.core.mail.backends.smtp.EmailBackend"
PRINTS_ONLY = "django.core.mail.backends.console.EmailBackend"


def in_portal_layout(page: str) -> bool:
    return '<a class="brand" href="/">esap</a>' in page and 'href="/datasets/"' in page and "Menu:" not in page


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/",
                                  "/accounts/password/reset/done/"])
def test_an_account_page_has_the_portals_header_and_navigation(settings, path):
    settings.ESAP_OPEN_SIGNUP = True

    page = Client().get(path).content.decode()

    assert in_portal_layout(page)


def test_a_page_for_the_logged_in_keeps_allauths_title_and_scripts(settings):
    client = Client()
    client.force_login(make_user("uma"))

    page = client.get("/accounts/email/").content.decode()

    assert in_portal_layout(page) and "Email Addresses" in page.split("</title>")[0]
    assert "account/js/account.js" in page


def test_closed_signup_still_says_where_accounts_come_from(settings):
    settings.ESAP_OPEN_SIGNUP = False

    page = Client().get("/accounts/signup/").content.decode()

    assert 'id="signup-closed"' in page and in_portal_layout(page)


def test_without_mail_the_login_offers_no_reset_and_the_reset_pages_send_to_the_operators(settings):
    settings.EMAIL_BACKEND = PRINTS_ONLY

    login = Client().get("/accounts/login/").content.decode()
    reset = Client().get("/accounts/password/reset/").content.decode()
    done = Client().get("/accounts/password/reset/done/").content.decode()

    assert "Forgot your password?" not in login and "/accounts/password/reset/" not in login
    assert "ask the portal's operators" in reset and 'name="email"' not in reset
    assert "ask the portal's operators" in done and "We have sent you an email" not in done


def test_with_mail_the_login_offers_a_reset_by_mail(settings):
    settings.EMAIL_BACKEND = SMTP

    login = Client().get("/accounts/login/").content.decode()
    reset = Client().get("/accounts/password/reset/").content.decode()

    assert '<a href="/accounts/password/reset/">Forgot your password?</a>' in login
    assert 'name="email"' in reset and "operators" not in reset


def test_the_login_invites_to_sign_up_only_where_sign_up_is_open(settings):
    settings.ESAP_OPEN_SIGNUP = True
    open_login = Client().get("/accounts/login/").content.decode()
    settings.ESAP_OPEN_SIGNUP = False
    closed_login = Client().get("/accounts/login/").content.decode()

    assert 'please <a href="/accounts/signup/">sign up</a> first' in open_login
    assert "sign up" not in closed_login and "/accounts/signup/" not in closed_login
    assert "Accounts on this portal are made by its operators" in closed_login
    assert 'name="login"' in closed_login and 'name="password"' in closed_login


def test_with_sign_up_closed_the_login_points_to_the_identity_provider_when_there_is_one(settings):
    settings.ESAP_OPEN_SIGNUP = False
    settings.SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"APPS": [{
        "provider_id": "community", "name": "Community login", "client_id": "esap", "secret": "s",
        "settings": {"server_url": "https://idp.example.org"}}]}}

    page = Client().get("/accounts/login/").content.decode()

    assert "Sign in with your community's identity provider below" in page and "Community login" in page
