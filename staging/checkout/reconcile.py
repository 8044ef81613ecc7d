"""Keeping the portal's view of ready launches true to the hubs: a server the facility stopped (its idle
culler, an operator) makes its launch `stopped`, so that nobody is sent to a notebook that is gone, and
is removed from the hub: stopped without removal (the culler's default), it would still count against the
hub's limit of named servers per user, and a stopped launch offers its user no way to remove it.

A hub with few of the portal's users is asked once per user. From `LIST_FROM_USERS` users on, it is
asked once for all its active users, page by page; only the users whose launches that listing misses
are then asked one by one, so that a user an offset page skipped is never taken for a stopped one.
A hub that cannot be reached is asked next time."""
from collections.abc import Iterable
from itertools import groupby

from esap.errors import EsapError
from facilities.hub.errors import HubForbidden, HubNotFound
from facilities.models import Facility
from staging.checkout import hub_access, machine
from staging.checkout.states import State
from staging.models import Checkout

STOPPED_BY_FACILITY = "The facility stopped this server (idle, or by its operators)."
# One call per user against one call per 200 active users of the hub (JupyterHub's largest page).
LIST_FROM_USERS = 20


def reconcile_ready_launches(*, list_from_users: int = LIST_FROM_USERS) -> int:
    """How many ready launches were found without their server, now stopped."""
    # Read before any hub is asked: a launch that became ready later is not judged by an older answer.
    ready = list(Checkout.objects.filter(state=State.READY, facility__isnull=False).exclude(server_name="")
                 .select_related("facility").order_by("facility_id", "hub_username"))
    found = 0
    for _, launches in groupby(ready, key=lambda c: c.facility_id):
        by_user = {user: list(group) for user, group in groupby(launches, key=lambda c: c.hub_username)}
        found += _reconcile_facility(by_user, list_from_users)
    return found


def _reconcile_facility(by_user: dict[str, list[Checkout]], list_from_users: int) -> int:
    facility = next(iter(by_user.values()))[0].facility
    listed = None
    if len(by_user) >= list_from_users:
        try:
            listed = _active_servers(facility)
        except _HubSilent:
            return 0
    found = 0
    for user, launches in by_user.items():
        if listed is not None and _all_running(launches, listed.get(user, set())):
            continue
        running = _running_servers(facility, user)
        if running is not None:
            found += _stop_missing(launches, running)
    return found


def _all_running(launches: Iterable[Checkout], running: set[str]) -> bool:
    return all(checkout.server_name in running for checkout in launches)


def _stop_missing(launches: Iterable[Checkout], running: set[str]) -> int:
    found = 0
    for checkout in launches:
        if checkout.server_name not in running and machine.transition(
                checkout.pk, source=State.READY, target=State.STOPPED, message=STOPPED_BY_FACILITY,
                data={"server_stopped": True}):
            found += 1
            _remove_server(checkout)
    return found


def _remove_server(checkout: Checkout) -> None:
    """Forget the stopped server on the hub (gone already is fine). If the hub cannot, the launch says so
    and its user's stop, offered again, removes it."""
    try:
        with hub_access.translated_errors():
            hub_access.client_for(checkout.facility).stop_server(checkout.hub_username, checkout.server_name,
                                                                 remove=True)
    except EsapError as error:
        machine.record(checkout.pk, phase=State.STOPPED,
                       message=f"The server could not be removed from the hub: {error.message}",
                       data={"server_stopped": False, "code": error.code})


class _HubSilent(Exception):
    """The hub could not say."""


def _active_servers(facility: Facility) -> dict[str, set[str]] | None:
    """The hub's active users and their servers; None if the portal may not list users (then each is
    asked)."""
    try:
        with hub_access.translated_errors():
            return hub_access.client_for(facility).active_servers()
    except EsapError as error:
        if isinstance(error.__cause__, HubForbidden):
            return None
        raise _HubSilent from error


def _running_servers(facility: Facility, user: str) -> set[str] | None:
    """The user's running or starting servers on the facility's hub; None if the hub could not say."""
    try:
        with hub_access.translated_errors():
            return set(hub_access.client_for(facility).list_servers(user))
    except EsapError as error:
        if isinstance(error.__cause__, HubNotFound):
            return set()  # the hub no longer knows the user: none of their servers runs
        return None
