"""One identity from the portal to the hub: login through an OpenID provider (code flow with PKCE),
groups kept and refreshed at each login, and the hub username each facility derives from it."""
import hashlib
import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.test import APIClient

from esap.errors import UserError
from esap.identity import hub_username, local_hub_username, sync_groups
from esap.models import ExternalGroupMembership
from tests import identity
from tests.factories import make_facility, make_user
from tests.servers.oidc.fixture import PROVIDER_ID

pytestmark = [pytest.mark.django_db, pytest.mark.oidc]


@pytest.fixture
def idp(portal_uses_idp):
    return portal_uses_idp


def groups_of(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_login_goes_to_the_idp_with_pkce(idp):
    query = parse_qs(urlsplit(identity.start_login(Client())).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert set(query["scope"][0].split()) == {"openid", "profile", "email", "groups"}


def test_behind_a_tls_proxy_the_idp_is_given_the_https_callback_it_registered(idp, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["esap.example.org"]
    proxied = Client(HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="esap.example.org")

    query = parse_qs(urlsplit(identity.start_login(proxied)).query)

    assert query["redirect_uri"] == [f"https://esap.example.org/accounts/oidc/{PROVIDER_ID}/login/callback/"]


def test_first_login_creates_the_user_with_the_groups_the_idp_asserts(idp):
    client = Client()
    response = identity.login(client, "alice", "alice-pass-1", next_path="/cart/")
    assert response.status_code == 302 and response["Location"] == "/cart/"
    user = get_user_model().objects.get(username="alice")
    assert groups_of(user) == {"astro", "portal-users"}
    account = SocialAccount.objects.get(user=user)
    assert (account.provider, account.uid) == (PROVIDER_ID, "alice")
    assert client.get("/cart/").status_code == 200


def test_groups_are_refreshed_at_each_login_and_hand_granted_ones_kept(idp):
    identity.login(Client(), "bob", "bob-pass-2")
    bob = get_user_model().objects.get(username="bob")
    withdrawn = Group.objects.create(name="former-project")
    ExternalGroupMembership.objects.create(user=bob, group=withdrawn, provider=PROVIDER_ID)
    bob.groups.add(withdrawn, Group.objects.create(name="granted-by-an-operator"))

    identity.login(Client(), "bob", "bob-pass-2")

    assert groups_of(bob) == {"portal-users", "granted-by-an-operator"}


def test_a_group_an_operator_granted_stays_when_a_provider_asserts_it_and_later_stops():
    user, cta = make_user(), Group.objects.create(name="cta")
    user.groups.add(cta)

    sync_groups(user=user, provider="community-idp", names={"cta", "lst"})
    sync_groups(user=user, provider="community-idp", names=set())

    assert groups_of(user) == {"cta"}


def test_a_password_login_of_a_single_sign_on_user_holds_none_of_the_providers_groups(idp):
    identity.login(Client(), "alice", "alice-pass-1")
    alice = get_user_model().objects.get(username="alice")
    alice.groups.add(Group.objects.create(name="granted-by-an-operator"))
    alice.set_password("a-local-password-9")  # as /accounts/password/set/ or a reset by e-mail would
    alice.save()

    local = Client().post("/accounts/login/", {"login": "alice", "password": "a-local-password-9"})

    assert local.status_code == 302
    assert groups_of(alice) == {"granted-by-an-operator"}
    identity.login(Client(), "alice", "alice-pass-1")
    assert groups_of(alice) == {"astro", "portal-users", "granted-by-an-operator"}


def test_a_wrong_password_is_refused_by_the_idp_and_creates_nobody(idp):
    refused = identity.through_idp(identity.start_login(Client()), "alice", "wrong")
    assert refused.status_code == 401 and "Invalid username or password" in refused.text
    assert not get_user_model().objects.filter(username="alice").exists()


def test_the_second_login_in_the_same_browser_needs_no_password(idp):
    browser = requests.Session()
    identity.login(Client(), "alice", "alice-pass-1", browser=browser)
    callback = identity.through_idp(identity.start_login(Client()), "alice", "not-asked-again", browser)
    assert isinstance(callback, str) and "code=" in callback


def test_the_providers_tokens_are_not_kept(idp):
    identity.login(Client(), "alice", "alice-pass-1")
    assert SocialToken.objects.count() == 0


def test_a_facility_behind_the_idp_knows_users_by_their_claim(idp):
    identity.login(Client(), "alice", "alice-pass-1")
    alice = get_user_model().objects.get(username="alice")
    facility = make_facility("sso-hub", identity_provider=PROVIDER_ID, hub_username_claim="preferred_username")
    assert hub_username(alice, facility) == "alice"
    facility.hub_username_claim = "email"
    assert hub_username(alice, facility) == "alice@example.org"


def test_a_user_without_an_account_at_the_facilitys_idp_is_told_to_log_in_there(idp):
    local = make_user("local-only")
    facility = make_facility("sso-hub", identity_provider=PROVIDER_ID)
    with pytest.raises(UserError) as refused:
        hub_username(local, facility)
    assert refused.value.code == "identity.no_account" and PROVIDER_ID in str(refused.value)


def test_a_claim_the_hub_cannot_take_is_refused_not_altered(idp):
    identity.login(Client(), "Zoë Odd", "odd-pass-3")
    odd = SocialAccount.objects.get(uid="Zoë Odd").user
    facility = make_facility("sso-hub", identity_provider=PROVIDER_ID)
    with pytest.raises(UserError) as refused:
        hub_username(odd, facility)
    assert refused.value.code == "identity.unusable_claim"


def test_portal_usernames_map_to_distinct_hub_users():
    names = ["ann-lee", "Ann Lee", "ann_lee", "ANN-LEE", "ann+lee", "ann.lee"]
    users = [make_user(name) for name in names]
    mapped = [local_hub_username(user) for user in users]
    assert len(set(mapped)) == len(names)
    assert mapped[0] == "ann-lee"  # a name that needs no change keeps it
    assert all(name == name.lower() and " " not in name for name in mapped)


def test_hub_names_already_given_stay_as_they_were():
    assert local_hub_username(make_user("ann-lee")) == "ann-lee"
    assert local_hub_username(make_user("Ann Lee")) == "ann-lee-a36e143c"
    assert local_hub_username(make_user("bob@example.org")) == "bob-example.org-686b5e4c"


def test_a_portal_username_spelled_like_another_users_hub_name_gets_a_hub_user_of_its_own():
    bob = make_user("bob@example.org")
    squatter = make_user(local_hub_username(bob))

    assert squatter.username == "bob-example.org-686b5e4c"
    assert local_hub_username(squatter) != local_hub_username(bob)
    assert local_hub_username(squatter).startswith("bob-example.org-686b5e4c-")


def test_only_names_ending_like_a_suffix_are_suffixed_among_those_needing_no_change():
    assert local_hub_username(make_user("run-20240115")) == f"run-20240115-{sha256_8('run-20240115')}"
    assert local_hub_username(make_user("run-2024011")) == "run-2024011"  # seven: no suffix looks so
    assert local_hub_username(make_user("cafe-deadbeef.v2")) == "cafe-deadbeef.v2"


def sha256_8(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def test_a_facility_can_only_name_a_configured_identity_provider(idp):
    staff = make_user("operator", staff=True)
    api = APIClient()
    api.force_authenticate(staff)
    body = {"name": "SSO hub", "slug": "sso", "hub_url": "https://hub.example.org", "identity_provider": "nope",
            "profiles": [{"slug": "small", "display_name": "Small"}]}

    refused = api.post("/api/facilities/register/", body, format="json")
    assert refused.status_code == 400
    assert "nope" in str(refused.json()["fields"]["identity_provider"])

    accepted = api.post("/api/facilities/register/", {**body, "identity_provider": PROVIDER_ID}, format="json")
    assert accepted.status_code == 201
    assert accepted.json()["identity_provider"] == PROVIDER_ID


def test_the_client_secret_and_the_providers_tokens_appear_in_no_page_and_no_log_line(idp, caplog):
    caplog.set_level(logging.DEBUG)
    secret = idp.client("portal").client_secret
    client = Client()
    pages = [identity.login(client, "alice", "alice-pass-1")]
    pages += [client.get(path) for path in ("/", "/cart/", "/checkouts/", "/account/tokens/", "/accounts/login/")]
    staff = make_user("operator", staff=True)
    staff.is_superuser = True
    staff.save()
    admin = Client()
    admin.force_login(staff)
    pages += [admin.get("/admin/socialaccount/socialaccount/"),
              admin.get(f"/admin/socialaccount/socialaccount/{SocialAccount.objects.get().pk}/change/")]

    assert all(page.status_code in (200, 302) for page in pages)
    assert not any(secret in page.content.decode() for page in pages)
    assert secret not in caplog.text
    extra = json.dumps(SocialAccount.objects.get().extra_data)
    assert "access_token" not in extra and "refresh_token" not in extra
