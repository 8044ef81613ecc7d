"""The hub role operators grant the portal is the least that works: the suite's hub grants exactly the
documented scopes (facilities/hub/roles.py), and README shows the same lists."""
from pathlib import Path

import pytest

from facilities.hub.roles import PORTAL_SCOPES, PORTAL_SCOPES_WITHOUT_USER_CREATION
from tests.factories import make_user
from tests.launching import hub_client, launch, wait_for

pytestmark = [pytest.mark.hub, pytest.mark.django_db(transaction=True)]
README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_role_without_user_creation_launches_for_a_user_the_hub_already_has(launch_env, hub_facility):
    user = make_user()
    facility = hub_facility(token=launch_env.no_create_token, allow_user_creation=False)
    hub_client(launch_env).ensure_user(user.username)

    checkout = wait_for(launch(user, facility=facility))

    assert checkout.state == "ready", checkout.error_message


def test_a_role_that_may_not_create_users_is_reported_when_a_user_is_new(launch_env, hub_facility):
    user = make_user()
    facility = hub_facility(token=launch_env.no_create_token, allow_user_creation=True)

    checkout = wait_for(launch(user, facility=facility))

    assert (checkout.state, checkout.failed_step, checkout.error_code) == ("failed", "spawning",
                                                                           "facility.forbidden")
    assert "refused the portal" in checkout.error_message
    assert user.cart.items.count() == 1  # nothing lost: retry once the operators fix the role


def test_readme_shows_operators_exactly_these_scopes():
    text = README.read_text()
    assert f'"scopes": {PORTAL_SCOPES}'.replace("'", '"') in text
    assert f'"scopes": {PORTAL_SCOPES_WITHOUT_USER_CREATION}'.replace("'", '"') in text
