"""Logging in to the portal through the suite's OpenID provider, as a browser would, without one: the
portal is Django's test client, the IdP is reached over HTTP with requests."""
from urllib.parse import urlsplit

import requests

from tests.servers.oidc.fixture import PROVIDER_ID

LOGIN_PATH = f"/accounts/oidc/{PROVIDER_ID}/login/"


def start_login(client, next_path: str = "/") -> str:
    """The portal's side up to the redirect to the IdP: allauth 65 logs in on POST only."""
    assert client.get(f"{LOGIN_PATH}?next={next_path}").status_code == 200
    response = client.post(f"{LOGIN_PATH}?next={next_path}")
    assert response.status_code == 302, response.content[:300]
    return response["Location"]


def through_idp(authorize_url: str, login: str, password: str,
                browser: requests.Session | None = None) -> requests.Response | str:
    """Follows the IdP's redirects, signing in when it asks. The portal's callback URL when the IdP
    lets the user through; the IdP's answer (e.g. 401 for a wrong password) when it does not."""
    browser = browser or requests.Session()
    url = authorize_url
    for _ in range(20):
        if urlsplit(url).hostname == "testserver":
            return url
        response = browser.get(url, allow_redirects=False, timeout=10)
        if response.status_code == 200 and 'id="login-form"' in response.text:
            action = url.split("?")[0].rstrip("/") + "/login"
            response = browser.post(action, data={"login": login, "password": password},
                                    allow_redirects=False, timeout=10)
        if response.status_code not in (302, 303):
            return response
        url = requests.compat.urljoin(url, response.headers["Location"])
    raise AssertionError("the IdP kept redirecting")


def finish_login(client, callback_url: str):
    parts = urlsplit(callback_url)
    return client.get(f"{parts.path}?{parts.query}")


def login(client, login_name: str, password: str, next_path: str = "/",
          browser: requests.Session | None = None):
    callback = through_idp(start_login(client, next_path), login_name, password, browser)
    assert isinstance(callback, str), f"the IdP refused: {callback.status_code} {callback.text[:200]}"
    return finish_login(client, callback)
