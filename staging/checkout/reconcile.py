"""Keeping the portal's view of ready launches true to the hubs: a server the facility stopped (its idle
culler, an operator) makes its launch `stopped`, so that nobody is sent to a notebook that is gone. One
hub call per user with ready launches on a facility; a hub that cannot be reached is asked next time."""
from itertools import groupby

from esap.errors import EsapError
from facilities.hub.errors import HubNotFound
from staging.checkout import hub_access, machine
from staging.checkout.states import State
from staging.models import Checkout

STOPPED_BY_FACILITY = "The facility stopped this server (idle, or by its operators)."


def reconcile_ready_launches() -> int:
    """How many ready launches were found without their server, now stopped."""
    ready = (Checkout.objects.filter(state=State.READY, facility__isnull=False).exclude(server_name="")
             .select_related("facility").order_by("facility_id", "hub_username"))
    found = 0
    for (_, user), launches in groupby(ready, key=lambda c: (c.facility_id, c.hub_username)):
        launches = list(launches)
        running = _running_servers(launches[0].facility, user)
        if running is None:
            continue
        for checkout in launches:
            if checkout.server_name not in running and machine.transition(
                    checkout.pk, source=State.READY, target=State.STOPPED, message=STOPPED_BY_FACILITY,
                    data={"server_stopped": True}):
                found += 1
    return found


def _running_servers(facility, user: str) -> set[str] | None:
    """The user's running or starting servers on the facility's hub; None if the hub could not say."""
    try:
        with hub_access.translated_errors():
            return set(hub_access.client_for(facility).list_servers(user))
    except EsapError as error:
        if isinstance(error.__cause__, HubNotFound):
            return set()  # the hub no longer knows the user: none of their servers runs
        return None
