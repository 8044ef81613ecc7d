"""Who a portal user is elsewhere: groups asserted by the identity provider at each login, and the hub
username a facility knows them by. The portal never invents a name for someone: a name is either the
user's own claim from the facility's identity provider or derived from their portal username, kept, and
never given to another user."""
import hashlib
import itertools
import logging
import re
from collections.abc import Iterator
from typing import Any

from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction

from esap.errors import UserError
from esap.models import ExternalGroupMembership, LocalHubName

log = logging.getLogger(__name__)
HUB_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,99}")
LOOKS_SUFFIXED = re.compile(r"-[0-9a-f]{8}$")  # how local_hub_username ends a name it changed
GROUP_NAME_LIMIT = 150  # django.contrib.auth.models.Group.name


def claims_of(account: SocialAccount) -> dict[str, Any]:
    """The claims allauth kept: userinfo where the provider sent it, else the ID token."""
    data = account.extra_data if isinstance(account.extra_data, dict) else {}
    claims = data.get("userinfo") or data.get("id_token") or data
    return claims if isinstance(claims, dict) else {}


def asserted_groups(claims: dict[str, Any], claim: str) -> set[str]:
    """Group names from a claim holding a list (or one string); names Django cannot hold are skipped."""
    raw = claims.get(claim) or []
    values = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    names = {str(value).strip() for value in values if isinstance(value, (str, int))}
    too_long = {name for name in names if len(name) > GROUP_NAME_LIMIT}
    if too_long:
        log.warning("identity: skipping %d group name(s) longer than %d characters", len(too_long),
                    GROUP_NAME_LIMIT)
    return {name for name in names - too_long if name}


@transaction.atomic
def sync_groups(*, user, provider: str, names: set[str]) -> None:
    """Makes the user's groups granted by `provider` exactly `names`: new ones are added, ones the
    provider no longer asserts are removed (unless another provider still grants them). Groups an
    operator granted by hand are left alone, even when a provider asserts them too."""
    granted = {m.group.name: m for m in ExternalGroupMembership.objects.filter(user=user, provider=provider)
               .select_related("group")}
    for name in names - granted.keys():
        group, _ = Group.objects.get_or_create(name=name)
        if _granted_by_hand(user, group):
            continue  # recording it as the provider's would let the provider take it away
        ExternalGroupMembership.objects.create(user=user, group=group, provider=provider)
        user.groups.add(group)
    for name in granted.keys() - names:
        _withdraw(user, granted[name])


def _granted_by_hand(user, group: Group) -> bool:
    held = user.groups.filter(pk=group.pk).exists()
    return held and not ExternalGroupMembership.objects.filter(user=user, group=group).exists()


def _withdraw(user, membership: ExternalGroupMembership) -> None:
    membership.delete()
    if not ExternalGroupMembership.objects.filter(user=user, group=membership.group).exists():
        user.groups.remove(membership.group)


@transaction.atomic
def on_local_login(*, user) -> None:
    """A login with the portal's own password holds no group an identity provider asserted: a user
    created by single sign-on who set a password must not keep, through it, what the provider has
    withdrawn since. The groups come back at the next login through the provider."""
    for membership in ExternalGroupMembership.objects.filter(user=user).select_related("group"):
        _withdraw(user, membership)


def on_social_login(*, user, sociallogin) -> None:
    """Called at each login through an identity provider: refreshes the groups it asserts."""
    account = sociallogin.account
    claim = _groups_claim(account)
    sync_groups(user=user, provider=account.provider, names=asserted_groups(claims_of(account), claim))


def configured_providers() -> dict[str, dict]:
    """The OpenID Connect providers of the settings, by id."""
    apps = settings.SOCIALACCOUNT_PROVIDERS.get("openid_connect", {}).get("APPS", [])
    return {app["provider_id"]: app for app in apps if app.get("provider_id")}


def _groups_claim(account: SocialAccount) -> str:
    app = configured_providers().get(account.provider, {})
    return app.get("settings", {}).get("groups_claim", "groups")


def hub_username(user, facility) -> str:
    """The name `user` has on `facility`'s hub. With an identity provider set on the facility, it is the
    user's own claim from that provider (refused, never altered, if the hub could not use it);
    without, the portal username made hub-safe, a name no other portal user has."""
    if not facility.identity_provider:
        return local_hub_username(user)
    account = SocialAccount.objects.filter(user=user, provider=facility.identity_provider).first()
    if account is None:
        raise UserError("identity.no_account", facility=facility.name, provider=facility.identity_provider)
    claim = facility.hub_username_claim or "preferred_username"
    value = claims_of(account).get(claim)
    name = str(value).lower() if isinstance(value, (str, int)) else ""
    if not HUB_USERNAME.fullmatch(name):
        raise UserError("identity.unusable_claim", facility=facility.name, claim=claim)
    return name


def local_hub_username(user) -> str:
    """The name `user` has on hubs without an identity provider, given at first use and kept. Lower case
    and hub-safe: a name that had to be changed gets a suffix from the original (say 'Ann Lee' and
    'ann-lee'), and so does one that needs no change but ends as such a suffix does
    ('bob-example.org-686b5e4c' is how 'bob@example.org' is known). Eight hex digits of a hash can be
    made to collide, so the name is held in the database, unique: a name another user holds is never
    given again, the user gets the next free one of `hub_name_candidates`."""
    return _held_name(user) or _give_name(user)


def hub_name_candidates(username: str) -> Iterator[str]:
    """The names a portal username may be given, best first: the first is the rule of the names given
    before they were kept, the others (more of the hash, then a counter) are for a name already held."""
    safe = re.sub(r"[^a-z0-9._-]", "-", username.lower()).strip("-.")[:80] or "user"
    digest = hashlib.sha256(username.encode()).hexdigest()
    if safe == username and not LOOKS_SUFFIXED.search(safe):
        yield safe
    yield f"{safe}-{digest[:8]}"
    yield f"{safe}-{digest[:16]}"
    for n in itertools.count(2):
        yield f"{safe}-{digest[:16]}-{n}"


def _held_name(user) -> str | None:
    return LocalHubName.objects.filter(user=user).values_list("name", flat=True).first()


def _give_name(user) -> str:
    for name in hub_name_candidates(user.get_username()):
        try:
            with transaction.atomic():
                LocalHubName.objects.create(user=user, name=name)
            return name
        except IntegrityError:  # the name is another user's, or a first launch at once gave this user one
            held = _held_name(user)
            if held:
                return held
    raise AssertionError("hub_name_candidates never runs out")
