"""The suite's one OpenID provider: started once per run, before the hub (which logs its users in
through it) and with the exact redirect URIs of the portal and the hub."""
import json
from collections.abc import Iterator

import pytest

from tests.secret_watch import register_secrets
from tests.servers.oidc.idp import IdPClient, IdPUser, TestIdP

PROVIDER_ID = "testidp"  # the portal's name for it (allauth provider_id)
USERS = [
    IdPUser("alice", "alice-pass-1", groups=("astro", "portal-users")),
    IdPUser("bob", "bob-pass-2", groups=("portal-users",)),
    IdPUser("Zoë Odd", "odd-pass-3", groups=()),  # a preferred_username no hub can take as it is
]


def portal_callback(base_url: str) -> str:
    return f"{base_url}/accounts/oidc/{PROVIDER_ID}/login/callback/"


@pytest.fixture(scope="session")
def oidc_idp(live_server_url: str, hub_port_base: int, idp_port: int) -> Iterator[TestIdP]:
    """A running TestIdP with clients `portal` (Django's test client and the live server) and
    `jupyterhub` (the suite's hub), and the users above."""
    clients = [
        IdPClient("portal", (portal_callback("http://testserver"), portal_callback(live_server_url))),
        IdPClient("jupyterhub", (f"http://localhost:{hub_port_base}/hub/oauth_callback",)),
    ]
    try:
        idp = TestIdP(port=idp_port, users=USERS, clients=clients).start()
    except (OSError, RuntimeError) as error:
        pytest.fail(f"the test OpenID provider could not start: {error}", pytrace=False)
    register_secrets(*(client.client_secret for client in clients))
    yield idp
    idp.stop()


def portal_app(idp: TestIdP) -> dict:
    """The allauth APPS entry for the portal, as esap.env.oidc_providers builds it from the environment."""
    from esap.env import oidc_providers

    client = idp.client("portal")
    entry = {"id": PROVIDER_ID, "name": "Test IdP", "server_url": idp.issuer, "client_id": client.client_id,
             "secret": client.client_secret, "scope": ["openid", "profile", "email", "groups"]}
    return oidc_providers(json.dumps([entry]), environ={})[0]


@pytest.fixture
def portal_uses_idp(oidc_idp: TestIdP, settings) -> TestIdP:
    """The portal offers "Sign in with Test IdP" for this test (settings are read at each request)."""
    providers = settings.SOCIALACCOUNT_PROVIDERS["openid_connect"]
    settings.SOCIALACCOUNT_PROVIDERS = {"openid_connect": {**providers, "APPS": [portal_app(oidc_idp)]}}
    return oidc_idp
