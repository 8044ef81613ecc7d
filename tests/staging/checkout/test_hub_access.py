"""The portal reaches a facility's hub only at public addresses unless the operator allows private ones:
at the hub URL's check and again at every connection, whatever the name answered in between."""
import itertools

import pytest

from esap.errors import UserError
from staging.checkout import hub_access
from tests.factories import make_facility
from tests.launching import hub_client
from tests.rebinding import fake_rebinding_resolver

pytestmark = [pytest.mark.hub, pytest.mark.django_db]
_names = itertools.count(1)


def test_a_hub_name_that_rebinds_to_a_private_address_is_refused_before_anything_is_sent(
        jupyterhub, settings, monkeypatch):
    """The hub URL's check passed (its name answered a public address); the connection's lookup answered
    127.0.0.1, where the real hub listens: DNS rebinding, simulated (see tests/rebinding.py). Had the
    request been sent, the hub would now have the user."""
    settings.ESAP_ALLOW_PRIVATE_URLS = True
    port = jupyterhub.url.rsplit(":", 1)[1]
    facility = make_facility(hub_url=f"http://hub.rebind.test:{port}", token=jupyterhub.service_token)
    settings.ESAP_ALLOW_PRIVATE_URLS = False
    lookups = fake_rebinding_resolver(monkeypatch, "hub.rebind.test")
    user = f"rebound-{next(_names)}"

    with pytest.raises(UserError) as refused:
        hub_access.client_for(facility).ensure_user(user)

    assert refused.value.code == "url.not_allowed"
    assert "reached 127.0.0.1, which is not a public address" in refused.value.message
    assert len(lookups) == 2  # the check's and one connection's: the refusal was not retried
    assert not hub_client(jupyterhub).user_exists(user)


def test_with_private_addresses_allowed_the_hub_at_a_loopback_address_is_reached(jupyterhub, settings):
    settings.ESAP_ALLOW_PRIVATE_URLS = True
    facility = make_facility(hub_url=jupyterhub.url, token=jupyterhub.service_token)
    user = f"allowed-{next(_names)}"

    hub_access.client_for(facility).ensure_user(user)

    assert hub_client(jupyterhub).user_exists(user)
