"""The portal probes each facility's hub and keeps its health and version current."""
import pytest

from facilities.models import Health
from facilities.services import facility_probe
from tests.factories import make_facility
from tests.rebinding import fake_rebinding_resolver

pytestmark = [pytest.mark.hub, pytest.mark.django_db]


def test_a_live_hub_is_up_with_its_version(jupyterhub, settings):
    settings.ESAP_ALLOW_PRIVATE_URLS = True
    facility = make_facility(hub_url=jupyterhub.url, token=jupyterhub.service_token)

    facility_probe(facility=facility)

    facility.refresh_from_db()
    assert (facility.health, facility.hub_version, facility.health_message) == (Health.UP, "6.1.1", "")
    assert facility.probed_at is not None


def test_a_hub_that_does_not_answer_is_down_with_the_reason(settings):
    settings.ESAP_ALLOW_PRIVATE_URLS = True
    facility = make_facility(hub_url="http://127.0.0.1:9")

    facility_probe(facility=facility)

    facility.refresh_from_db()
    assert facility.health == Health.DOWN and "ConnectionError" in facility.health_message


def test_a_hub_url_the_policy_refuses_is_down_without_being_called(settings):
    settings.ESAP_ALLOW_PRIVATE_URLS = True
    facility = make_facility(hub_url="http://127.0.0.1:9")
    settings.ESAP_ALLOW_PRIVATE_URLS = False

    facility_probe(facility=facility)

    facility.refresh_from_db()
    assert facility.health == Health.DOWN and "not a public address" in facility.health_message


def test_a_hub_name_that_rebinds_to_a_private_address_is_down_naming_it_and_is_not_asked_again(
        jupyterhub, settings, monkeypatch):
    """The hub URL's check passed (its name answered a public address); the connection's lookup answered
    127.0.0.1, where the real hub listens: DNS rebinding, simulated (see tests/rebinding.py)."""
    settings.ESAP_ALLOW_PRIVATE_URLS = True
    port = jupyterhub.url.rsplit(":", 1)[1]
    facility = make_facility(hub_url=f"http://hub.rebind.test:{port}", token=jupyterhub.service_token)
    settings.ESAP_ALLOW_PRIVATE_URLS = False
    lookups = fake_rebinding_resolver(monkeypatch, "hub.rebind.test")

    facility_probe(facility=facility)

    facility.refresh_from_db()
    assert facility.health == Health.DOWN and facility.hub_version == ""
    assert "reached 127.0.0.1, which is not a public address" in facility.health_message
    assert len(lookups) == 2  # the check's and one connection's: the refusal was not retried


@pytest.mark.parametrize("token", ["a-mistyped-token", ""])
def test_a_hub_that_refuses_the_portals_token_is_down_saying_so(jupyterhub, settings, token):
    settings.ESAP_ALLOW_PRIVATE_URLS = True
    facility = make_facility(hub_url=jupyterhub.url, token=token)

    facility_probe(facility=facility)

    facility.refresh_from_db()
    assert facility.health == Health.DOWN
    assert "The hub refused the portal's token" in facility.health_message
