"""Starting, retrying, cancelling and stopping checkouts, and fetching a ready one's notebook. The work
itself runs in staging.tasks on a worker."""

import posixpath

from django.db import transaction
from django.utils import timezone

from esap.errors import UserError, retry_can_fix
from esap.identity import hub_username
from facilities.selectors import facility_list
from staging.checkout import hub_access, machine
from staging.checkout.states import SERVER_TO_STOP, STEPS, State, TERMINAL
from staging.models import Cart, Checkout, CheckoutEvent
from staging.selectors import checkout_get, server_stop_failed
from staging.services import locked_cart
from workflows.selectors import workflow_list


@transaction.atomic
def checkout_start(*, user) -> Checkout:
    """Freeze the user's cart into a checkout and enqueue its pipeline once the row is committed."""
    cart = locked_cart(user)
    _check_ready_for_checkout(cart)
    checkout = Checkout.objects.create(user=user, launched_at=timezone.now(), **_snapshot(cart))
    CheckoutEvent.objects.create(checkout=checkout, phase=State.CREATED, message="Checkout created.")
    cart.frozen_by = checkout
    cart.save(update_fields=["frozen_by", "updated_at"])
    _enqueue_on_commit(checkout)
    return checkout


def checkout_retry(*, user, pk) -> Checkout:
    """Resume a failed checkout from the step that failed; a failed upload or execution from spawning,
    since its server or kernel may have gone meanwhile (spawning finds a running server in one call)."""
    checkout = checkout_get(user=user, pk=pk)
    if checkout.state != State.FAILED:
        raise UserError("checkout.not_retryable", state=checkout.state)
    if refusal := retry_refusal(checkout):
        raise refusal
    step = _resume_step(checkout.failed_step)
    with transaction.atomic():
        moved = machine.transition(
            checkout.pk, source=State.FAILED, target=step, message=f"Retrying from {step}.",
            error_code="", error_message="", finished_at=None, execution_started_at=None,
            launched_at=timezone.now(),
        )
        if not moved:
            raise UserError("checkout.not_retryable", state=checkout_get(user=user, pk=pk).state)
        _enqueue_on_commit(checkout)
    return checkout_get(user=user, pk=pk)


def _resume_step(failed_step: str) -> State:
    if failed_step not in STEPS:
        return State.STAGING
    return State.SPAWNING if failed_step in {State.UPLOADING, State.EXECUTING} else State(failed_step)


def checkout_cancel(*, user, pk) -> Checkout:
    _cancel(checkout_get(user=user, pk=pk), by="the user")
    return checkout_get(user=user, pk=pk)


def checkout_stop(*, user, pk) -> Checkout:
    """End a ready launch: its server is stopped on the facility (a task), freeing what it holds there
    and a place under the hub's limit of servers per user (its files stay only if the facility's storage
    keeps them: see checkout_notebook). Asked again of a stopped or cancelled launch whose stop failed
    (the hub was down), it tries again."""
    _stop(checkout_get(user=user, pk=pk), by="the user")
    return checkout_get(user=user, pk=pk)


def checkout_end_by_operator(*, operator, pk) -> Checkout:
    """An operator ends anyone's launch as its user's Cancel or Stop would (a departed user's launch that
    keeps its facility, a runaway one): under way or failed, it is cancelled; ready, stopped; ended but its
    server's last stop failed, the stop is tried again. Its page says an operator did it; the event's data
    says who. Raises UserError like the user's own actions, e.g. for a launch already over."""
    checkout = Checkout.objects.get(pk=pk)
    by, data = "an operator", {"operator": operator.get_username()}
    if checkout.state in {State.CREATED, *STEPS, State.FAILED}:
        _cancel(checkout, by=by, data=data)
    else:
        _stop(checkout, by=by, data=data, say_again=True)
    return Checkout.objects.get(pk=pk)


def checkout_forget_server_by_operator(*, operator, pk) -> Checkout:
    """An operator records that a launch's server went with its hub (decommissioned, unreachable for good):
    the portal stops trying to stop it, and the facility can be deleted. Only for a launch that has ended
    or failed: a failed one is cancelled on the way. One under way or ready is stopped first."""
    checkout = Checkout.objects.get(pk=pk)
    data = {"operator": operator.get_username(), "server_stopped": True, "forgotten": True}
    message = f"An operator recorded that server {checkout.server_name} is gone with its hub."
    if checkout.state == State.FAILED:
        if not machine.transition(checkout.pk, source=State.FAILED, target=State.CANCELLED, message=message,
                                  data=data):
            raise UserError("checkout.not_cancellable", state=_state_now(checkout))
    elif checkout.state in SERVER_TO_STOP:
        machine.record(checkout.pk, phase=State(checkout.state), message=message, data=data)
    else:
        raise UserError("checkout.forget_live", state=checkout.state)
    return Checkout.objects.get(pk=pk)


def _cancel(checkout: Checkout, *, by: str, data: dict | None = None) -> None:
    if checkout.state in TERMINAL - {State.FAILED}:
        raise UserError("checkout.not_cancellable", state=checkout.state)
    if not machine.transition(checkout.pk, source=State(checkout.state), target=State.CANCELLED,
                              message=f"Cancelled by {by}.", data=data):
        raise UserError("checkout.not_cancellable", state=_state_now(checkout))
    _stop_server_on_commit(checkout)


def _stop(checkout: Checkout, *, by: str, data: dict | None = None, say_again: bool = False) -> None:
    if checkout.facility_id is None:
        raise UserError("facility.missing")
    again = checkout.state in SERVER_TO_STOP and server_stop_failed(checkout=checkout)
    stopping = again or (checkout.state == State.READY and machine.transition(
        checkout.pk, source=State.READY, target=State.STOPPED, message=f"Server stop requested by {by}.",
        data=data))
    if not stopping:
        raise UserError("checkout.not_stoppable", state=_state_now(checkout))
    if again and say_again:
        machine.record(checkout.pk, phase=State(checkout.state),
                       message=f"Server stop requested again by {by}.", data=data)
    _stop_server_on_commit(checkout)


def _state_now(checkout: Checkout) -> str:
    return Checkout.objects.values_list("state", flat=True).get(pk=checkout.pk)


def checkout_notebook(*, user, pk) -> tuple[str, dict]:
    """The ready launch's notebook as it is now on its server (with the outputs the user made since), and
    its file name: so that nothing is lost when the server, and a volume of its own, go."""
    checkout = checkout_get(user=user, pk=pk)
    if checkout.state != State.READY:
        raise UserError("checkout.no_server", state=checkout.state)
    with hub_access.server_of(checkout) as server:
        notebook = server.get_notebook(checkout.remote_path)
    return posixpath.basename(checkout.remote_path), notebook


def _check_ready_for_checkout(cart: Cart) -> None:
    if cart.frozen_by_id:
        raise UserError("cart.frozen")
    if not cart.items.exists():
        raise UserError("cart.empty")
    if cart.workflow is None:
        raise UserError("cart.no_workflow")
    if cart.workflow_version and cart.workflow_version.workflow_id != cart.workflow_id:
        raise UserError("cart.no_workflow")
    if cart.facility is None or cart.profile is None:
        raise UserError("cart.no_facility")
    if cart.profile.facility_id != cart.facility_id:
        raise UserError("cart.profile_mismatch", profile=cart.profile.slug, facility=cart.facility.slug)
    refused = _not_allowed(cart.user, facility=cart.facility, workflow=cart.workflow)
    if refused:
        raise UserError("cart.not_allowed", what=refused)


def retry_refusal(checkout: Checkout) -> UserError | None:
    """Why a retry of this failed launch by its user would be refused, or None: what it names is gone from
    the catalogue, or no longer the user's to launch (a group left, a workflow withdrawn by a harvest)."""
    if not retry_can_fix(checkout.error_code, step=checkout.failed_step):
        return UserError("checkout.retry_cannot_fix")
    if refused := _not_allowed(checkout.user, facility=checkout.facility, workflow=checkout.workflow):
        return UserError("checkout.not_allowed", what=refused)
    return None


def _not_allowed(user, *, facility, workflow) -> str:
    """What the user may no longer launch: visibility may have changed since the choice (group
    membership, an operator's edit). Empty if nothing."""
    if facility is not None and not facility_list(viewer=user).filter(pk=facility.pk).exists():
        return f"facility {facility.slug!r}"
    if workflow is not None and not workflow_list(viewer=user).filter(pk=workflow.pk).exists():
        return f"workflow {workflow.title!r}"
    return ""


def _snapshot(cart: Cart) -> dict:
    workflow, facility = cart.workflow, cart.facility
    version = cart.workflow_version or workflow.versions.first()
    return {
        "facility": facility,
        "facility_slug": facility.slug,
        "profile_slug": cart.profile.slug,
        "workflow": workflow,
        "workflow_version": version,
        "workflow_title": workflow.title,
        "workflow_commit": version.commit_sha if version else workflow.commit_sha,
        "notebook_path": workflow.notebook_path,
        "datasets": [
            {"id": item.dataset_id, "source": item.dataset.source, "identifier": item.dataset.identifier,
             "title": item.dataset.title, "metadata": {**item.dataset.metadata, **item.provenance}}
            for item in cart.items.select_related("dataset")
        ],
        "hub_username": hub_username(cart.user, facility),
    }


def _enqueue_on_commit(checkout: Checkout) -> None:
    from staging.tasks import checkout_run

    machine.mark_queued([checkout.pk])
    transaction.on_commit(lambda: checkout_run.delay(str(checkout.pk)))


def _stop_server_on_commit(checkout: Checkout) -> None:
    from staging.tasks import checkout_stop_server

    transaction.on_commit(lambda: checkout_stop_server.delay(str(checkout.pk)))
