"""The portal's use of a facility's hub: a client with the facility's token, scoped server tokens, and
the hub's errors translated into the portal's own."""
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from esap.errors import ServiceError, UserError
from esap.http import check_outbound_url
from facilities.hub import errors as hub_errors
from facilities.hub.client import HubClient
from facilities.hub.server import ServerClient
from facilities.models import Facility
from facilities.services import hub_peer_policy, hub_session

SERVER_TOKEN_SECONDS = 900


def client_for(facility: Facility) -> HubClient:
    if not getattr(facility.api_token, "readable", True):
        raise ServiceError("facility.token_unreadable", facility=facility.slug)
    if not facility.api_token:
        raise UserError("facility.no_token", facility=facility.slug)
    check_outbound_url(facility.hub_url, allow_private=settings.ESAP_ALLOW_PRIVATE_URLS)
    return HubClient(facility.hub_url, str(facility.api_token), session=hub_session(facility.hub_url))


def ensure_hub_user(client: HubClient, facility: Facility, username: str) -> None:
    if facility.allow_user_creation:
        client.ensure_user(username)
    elif not client.user_exists(username):
        raise UserError("hub.user_missing", username=username)


@contextmanager
def server_token(client: HubClient, username: str, server_name: str) -> Iterator[str]:
    """A short-lived token that can reach this one server and nothing else, revoked afterwards."""
    minted = client.mint_server_token(username, server_name, expires_in=SERVER_TOKEN_SECONDS)
    try:
        yield minted.token
    finally:
        try:
            client.revoke_token(username, minted.token_id)
        except hub_errors.HubError:
            pass  # it expires by itself; a failed revoke must not hide the step's own outcome


@contextmanager
def server_of(checkout) -> Iterator[ServerClient]:
    """The checkout's server, reached with a token scoped to it for as long as the block lasts."""
    if checkout.facility is None:
        raise UserError("facility.missing")
    with translated_errors():
        client = client_for(checkout.facility)
        with server_token(client, checkout.hub_username, checkout.server_name) as token:
            hub_url = checkout.facility.hub_url
            yield ServerClient(hub_url, checkout.hub_username, checkout.server_name, token,
                               session=hub_session(hub_url), peer_policy=hub_peer_policy(hub_url))


@contextmanager
def translated_errors() -> Iterator[None]:
    try:
        yield
    except hub_errors.SpawnTimeout as error:
        raise ServiceError("spawn.timeout", seconds=error.seconds) from error
    except hub_errors.SpawnFailed as error:
        raise ServiceError("spawn.failed", detail=str(error)) from error
    except hub_errors.HubForbidden as error:
        raise ServiceError("facility.forbidden", detail=str(error)) from error
    except hub_errors.HubUnavailable as error:
        raise ServiceError("facility.unavailable", detail=str(error)) from error
    except hub_errors.ServerLimitReached as error:
        raise UserError("spawn.server_limit", limit=error.limit) from error
    except hub_errors.HubRequestError as error:
        raise UserError("facility.rejected", detail=str(error)) from error
    except hub_errors.KernelError as error:
        raise ServiceError("notebook.kernel_unreachable", detail=str(error)) from error
    except hub_errors.HubError as error:  # e.g. the server went away (424) between two steps
        raise ServiceError("facility.unavailable", detail=str(error)) from error
