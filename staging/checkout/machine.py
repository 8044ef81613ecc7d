"""The only place a checkout's state changes: a compare-and-set on the row plus one event per move."""
import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from staging.checkout.states import ENDED, State, TERMINAL, allowed
from staging.models import Cart, CartItem, Checkout, CheckoutEvent

log = logging.getLogger(__name__)
# The holder of a checkout whose task is on the broker's queue: any worker may claim it, and the sweeper
# leaves it alone for ESAP_REQUEUE_AFTER_SECONDS, so that a long queue is not filled with copies of itself.
QUEUED = "(queued)"


def transition(checkout_id: Any, *, source: State, target: State, message: str,
               progress: int | None = None, data: dict | None = None, held_by: str | None = None,
               **fields: Any) -> bool:
    """Move `source` → `target` if the row is still in `source` (and, given `held_by`, that run still
    holds its lease); False if someone moved it or took it over first."""
    if not allowed(source, target):
        raise ValueError(f"A checkout cannot go from {source} to {target}.")
    now = timezone.now()
    if State(target) in TERMINAL and State(source) != State.READY:
        fields.setdefault("finished_at", now)  # a ready launch has ended: stopping its server later does not move it
    with transaction.atomic():
        rows = Checkout.objects.filter(pk=checkout_id, state=source)
        if held_by is not None:
            rows = rows.filter(leased_by=held_by)
        moved = rows.update(
            state=target, state_since=now, updated_at=now, **fields
        )
        if not moved:
            return False
        CheckoutEvent.objects.create(
            checkout_id=checkout_id, phase=target, message=message, progress=progress, data=data or {}
        )
        _settle_cart(checkout_id, State(target))
    log.info("checkout %s: %s -> %s", checkout_id, source, target)
    return True


def record(checkout_id: Any, *, phase: State, message: str, progress: int | None = None,
           data: dict | None = None) -> None:
    """An event within a phase (e.g. the hub's own spawn messages); the state does not change."""
    CheckoutEvent.objects.create(
        checkout_id=checkout_id, phase=phase, message=message, progress=progress, data=data or {}
    )


def _settle_cart(checkout_id: Any, target: State) -> None:
    """A failed or cancelled checkout gives the cart back; a ready one has consumed it."""
    carts = Cart.objects.filter(frozen_by_id=checkout_id)
    if target == State.READY:
        CartItem.objects.filter(cart__in=carts).delete()
        carts.update(frozen_by=None, workflow=None, workflow_version=None, facility=None, profile=None)
    elif target in ENDED or target == State.FAILED:
        carts.update(frozen_by=None)


def claim(checkout_id: Any, *, worker: str) -> bool:
    """Take the lease on a checkout so that a second delivery of its task does not run it twice."""
    now = timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(leased_by=worker) | Q(leased_by=QUEUED)
    return bool(
        Checkout.objects.filter(free, pk=checkout_id).update(leased_by=worker, lease_until=_lease_end(now))
    )


def mark_queued(checkout_ids: list[Any]) -> None:
    """Their tasks were just enqueued; a checkout a worker holds, or one parked, keeps its lease."""
    until = timezone.now() + timedelta(seconds=settings.ESAP_REQUEUE_AFTER_SECONDS)
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=timezone.now()) | Q(leased_by=QUEUED)
    Checkout.objects.filter(free, pk__in=checkout_ids).update(leased_by=QUEUED, lease_until=until)


def renew(checkout_id: Any, *, worker: str) -> None:
    Checkout.objects.filter(pk=checkout_id, leased_by=worker).update(lease_until=_lease_end(timezone.now()))


def renew_in_phase(checkout_id: Any, *, worker: str, phase: str) -> bool:
    """Renew the lease while the checkout is still in `phase` and ours; False once it moved on (the user
    cancelled it, or another run took it over), which tells the step to stop."""
    return bool(_held_in_phase(checkout_id, worker, phase).update(lease_until=_lease_end(timezone.now())))


def park(checkout_id: Any, *, worker: str, phase: str, until: datetime) -> bool:
    """Give the lease up until `until` while the step waits on remote work (the sweeper leaves the
    checkout alone until then); False if the checkout moved on meanwhile."""
    return bool(_held_in_phase(checkout_id, worker, phase).update(leased_by="", lease_until=until))


def _held_in_phase(checkout_id: Any, worker: str, phase: str):
    return Checkout.objects.filter(pk=checkout_id, leased_by=worker, state=phase)


def release(checkout_id: Any, *, worker: str) -> None:
    Checkout.objects.filter(pk=checkout_id, leased_by=worker).update(leased_by="", lease_until=None)


def _lease_end(now):
    return now + timedelta(seconds=settings.ESAP_CHECKOUT_LEASE_SECONDS)
