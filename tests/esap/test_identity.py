"""One identity from the portal to the hub: login through an OpenID provider (code flow with PKCE),
groups kept and refreshed at each login, and the hub username each facility derives from it."""
import hashlib
import json
import logging
import threading
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from esap import identity as identity_module
from esap.errors import UserError
from esap.identity import hub_name_candidates, hub_username, local_hub_username, sync_groups
from esap.models import ExternalGroupMembership, LocalHubName
from facilities.models import Facility
from staging.models import Checkout
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


# Two real usernames the rule maps to one hub name, 'ann-lee-973364e7': eight hex digits collide for some
# pair among a few thousand spellings of 'ann-lee' (capitals, characters stripped at the end), found in a
# second; a victim's own name takes about 2**32 tries, hours on one core.
COLLIDING = ("aNn-LEe..", "Ann-LEe-....")


def test_two_usernames_the_rule_maps_to_one_hub_name_never_share_a_hub_user():
    assert {next(hub_name_candidates(username)) for username in COLLIDING} == {"ann-lee-973364e7"}
    victim, attacker = (make_user(username) for username in COLLIDING)

    assert local_hub_username(victim) == "ann-lee-973364e7"
    assert local_hub_username(attacker) == "ann-lee-973364e79be1e4d6"  # 16 digits of the hash
    assert local_hub_username(victim) == "ann-lee-973364e7"


def test_a_hub_name_stays_with_its_user_through_a_rename_and_is_never_given_again():
    ann = make_user("ann-lee")
    assert local_hub_username(ann) == "ann-lee"
    ann.username = "ann-smith"
    ann.save()
    assert local_hub_username(ann) == "ann-lee"

    ann.delete()  # her files stay on the hubs
    assert local_hub_username(make_user("ann-lee")) == f"ann-lee-{sha256_8('ann-lee')}"
    assert LocalHubName.objects.get(name="ann-lee").user is None


def first_launches_at_once(users: list, monkeypatch) -> list[str]:
    """local_hub_username of `users` in parallel, none giving a name before all have looked for one held."""
    everyone_looked = threading.Barrier(len(users))
    held, looked = identity_module._held_name, threading.local()

    def held_then_wait_for_the_others(user):
        name = held(user)
        if not getattr(looked, "once", False):
            looked.once = True
            everyone_looked.wait(timeout=30)
        return name

    monkeypatch.setattr(identity_module, "_held_name", held_then_wait_for_the_others)
    outcomes: dict[int, str] = {}

    def launch(index: int, user) -> None:
        try:
            outcomes[index] = local_hub_username(user)
        except Exception as error:  # noqa: BLE001 - what a failed checkout would have shown
            outcomes[index] = repr(error)
        finally:
            connection.close()

    runs = [threading.Thread(target=launch, args=pair) for pair in enumerate(users)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join()
    return [outcomes[index] for index in range(len(users))]


@pytest.mark.django_db(transaction=True)
def test_first_launches_at_once_of_two_users_the_rule_maps_to_one_name_give_two_names(monkeypatch):
    users = [make_user(username) for username in COLLIDING]

    names = first_launches_at_once(users, monkeypatch)

    assert names in (["ann-lee-973364e7", "ann-lee-973364e79be1e4d6"],  # either may be first
                     ["ann-lee-973364e76e750088", "ann-lee-973364e7"]), names
    assert dict(LocalHubName.objects.values_list("user_id", "name")) == {
        user.pk: name for user, name in zip(users, names)}


@pytest.mark.django_db(transaction=True)
def test_two_first_launches_at_once_of_one_user_give_one_name(monkeypatch):
    ann = make_user("Ann Lee")

    assert first_launches_at_once([ann, ann], monkeypatch) == ["ann-lee-a36e143c"] * 2
    assert list(LocalHubName.objects.values_list("user_id", "name")) == [(ann.pk, "ann-lee-a36e143c")]


def launched_before(user, facility, hub_name: str, *, days_ago: int) -> None:
    checkout = Checkout.objects.create(user=user, facility=facility, facility_slug=facility.slug,
                                       profile_slug="small", workflow_title="w", notebook_path="w.ipynb",
                                       hub_username=hub_name)
    Checkout.objects.filter(pk=checkout.pk).update(created_at=timezone.now() - timedelta(days=days_ago))


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_keeps_the_hub_names_given_and_the_first_of_two_users_sharing_one(capsys):
    before, after = ("esap", "0006_search_words"), ("esap", "0007_local_hub_names")
    executor = MigrationExecutor(connection)
    executor.migrate([before])  # only esap goes back: the other apps' tables are as the models say
    local, sso = make_facility("local-hub"), make_facility("sso-hub")
    attacker, victim, sso_user, before_989b4aa, idle = (make_user(username) for username in (
        COLLIDING[1], COLLIDING[0], "carol", "run-20240115", "dave"))
    launched_before(victim, local, "ann-lee-973364e7", days_ago=30)
    launched_before(attacker, local, "ann-lee-973364e7", days_ago=20)
    launched_before(victim, local, "ann-lee-973364e7", days_ago=10)
    launched_before(sso_user, sso, "carol", days_ago=30)
    launched_before(before_989b4aa, local, "run-20240115", days_ago=30)
    launched_before(before_989b4aa, local, f"run-20240115-{sha256_8('run-20240115')}", days_ago=5)
    Facility.objects.filter(pk=sso.pk).update(identity_provider=PROVIDER_ID)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([after])

    assert dict(LocalHubName.objects.exclude(user=None).values_list("user__username", "name")) == {
        "aNn-LEe..": "ann-lee-973364e7",  # launched as it first, though the other user is older
        "Ann-LEe-....": "ann-lee-973364e79be1e4d6",
        "run-20240115": "run-20240115",  # the hub user holding its files, though today's rule suffixes it
    }
    # A second name a user launched as served them: it is nobody's to be given from now on.
    assert list(LocalHubName.objects.filter(user=None).values_list("name", flat=True)) == [
        f"run-20240115-{sha256_8('run-20240115')}"]
    assert "'Ann-LEe-....' now launches as 'ann-lee-973364e79be1e4d6'" in capsys.readouterr().out
    # The others get the name the rule gives them at their first launch, as they would have before.
    assert [local_hub_username(user) for user in (sso_user, before_989b4aa, idle)] == [
        "carol", "run-20240115", "dave"]
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


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
