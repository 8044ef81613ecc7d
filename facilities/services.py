"""Writes to the facility catalogue."""
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from esap.http import PeerPolicy, check_outbound_url, peer_checked_session, peer_policy
from facilities.models import Facility, Health, ServerProfile


def hub_url_clean(url: str) -> str:
    """A hub URL the portal may call (SSRF guard), normalised without a trailing slash."""
    check_outbound_url(url, allow_private=settings.ESAP_ALLOW_PRIVATE_URLS)
    return url.rstrip("/")


def hub_session(hub_url: str) -> requests.Session:
    """The session for every call to a facility's hub and its servers. The hub URL's check resolves its
    host name once and each connection resolves it again; unless private addresses are allowed, this
    session refuses a connection that reached one before sending anything on it (DNS rebinding)."""
    return peer_checked_session(hub_url, allow_private=settings.ESAP_ALLOW_PRIVATE_URLS)


def hub_peer_policy(hub_url: str) -> PeerPolicy | None:
    """hub_session's check, for the connections to the hub it does not make: the kernel websocket."""
    return peer_policy(hub_url, allow_private=settings.ESAP_ALLOW_PRIVATE_URLS)


@transaction.atomic
def facility_create(*, name: str, slug: str, hub_url: str, api_token: str = "",
                    profiles: list[dict[str, Any]] = (), **fields: Any) -> Facility:
    facility = Facility(name=name, slug=slug, hub_url=hub_url_clean(hub_url), api_token=api_token, **fields)
    facility.full_clean()
    facility.save()
    for position, profile in enumerate(profiles):
        ServerProfile.objects.create(facility=facility, position=position, **profile)
    return facility


def facility_record_probe(*, facility: Facility, healthy: bool, version: str = "", message: str = "") -> None:
    facility.health = Health.UP if healthy else Health.DOWN
    facility.hub_version = version[:50]
    facility.health_message = message[:500]
    facility.probed_at = timezone.now()
    facility.save(update_fields=["health", "hub_version", "health_message", "probed_at"])


def facility_probe(*, facility: Facility) -> Facility:
    """Ask the facility's hub who it is and record its health and version."""
    from esap.errors import UserError
    from facilities.hub.client import HubClient
    from facilities.hub.errors import HubError, HubForbidden
    from facilities.hub.transport import RetryPolicy, Timeouts

    if not getattr(facility.api_token, "readable", True):
        facility_record_probe(facility=facility, healthy=False, message=(
            "The stored token cannot be decrypted with the configured keys (ESAP_FIELD_ENCRYPTION_KEYS): "
            "enter it again or restore the key."))
        return facility
    try:
        check_outbound_url(facility.hub_url, allow_private=settings.ESAP_ALLOW_PRIVATE_URLS)
        client = HubClient(facility.hub_url, str(facility.api_token or ""),
                           timeouts=Timeouts(connect=3, read=10), retry=RetryPolicy(attempts=2, backoff=0.5),
                           session=hub_session(facility.hub_url))
        version = client.info().version
    except HubForbidden as error:
        facility_record_probe(facility=facility, healthy=False, message=(
            f"The hub refused the portal's token (wrong, revoked, or without the read:hub scope): {error}"))
    except (HubError, UserError) as error:
        facility_record_probe(facility=facility, healthy=False, message=str(error))
    else:
        facility_record_probe(facility=facility, healthy=True, version=version, message="")
    return facility
