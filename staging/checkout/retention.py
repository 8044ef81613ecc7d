"""Keeping the event log from growing without end: thousands of users launching daily write millions of
progress events a year. Once a launch has been over for the retention period, its progress events go;
the checkout row (the receipt: what was launched, where, with which data) and its last event stay."""
from datetime import timedelta

from django.db.models import Max
from django.utils import timezone

from staging.checkout.states import TERMINAL
from staging.models import Checkout, CheckoutEvent

BATCH = 500  # checkouts per delete: short transactions, whatever the backlog


def prune_checkout_events(*, older_than: timedelta) -> int:
    """Deletes the progress events of launches that ended before `older_than` ago, all but each one's
    last; returns how many went. Running it again deletes nothing more."""
    ended = Checkout.objects.filter(state__in=TERMINAL, finished_at__lt=timezone.now() - older_than)
    ids = list(ended.values_list("pk", flat=True))
    deleted = 0
    for start in range(0, len(ids), BATCH):
        batch = ids[start:start + BATCH]
        last = (CheckoutEvent.objects.filter(checkout_id__in=batch).values("checkout_id")
                .annotate(last=Max("pk")).values("last"))
        deleted += CheckoutEvent.objects.filter(checkout_id__in=batch).exclude(pk__in=last).delete()[0]
    return deleted
