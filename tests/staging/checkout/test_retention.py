"""The event log of launches long over is pruned to each launch's last event; receipts and launches in
flight keep everything."""
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from staging.checkout.retention import prune_checkout_events
from staging.models import Checkout, CheckoutEvent
from staging.tasks import checkout_events_prune
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def launch_with_events(*, state: str, ended_days_ago: int | None, events: int) -> Checkout:
    checkout = Checkout.objects.create(user=make_user(), state=state, workflow_title="Crab timing",
                                       facility_slug="swan", profile_slug="small")
    finished = timezone.now() - timedelta(days=ended_days_ago) if ended_days_ago is not None else None
    Checkout.objects.filter(pk=checkout.pk).update(finished_at=finished)
    for index in range(events):
        CheckoutEvent.objects.create(checkout=checkout, phase="staging", message=f"step {index}")
    return checkout


def messages(checkout: Checkout) -> list[str]:
    return list(checkout.events.values_list("message", flat=True))


def test_launches_over_for_longer_than_the_retention_keep_only_their_last_event():
    old = launch_with_events(state="ready", ended_days_ago=200, events=5)
    recent = launch_with_events(state="failed", ended_days_ago=10, events=3)
    in_flight = launch_with_events(state="staging", ended_days_ago=None, events=4)
    Checkout.objects.filter(pk=in_flight.pk).update(created_at=timezone.now() - timedelta(days=300))

    deleted = prune_checkout_events(older_than=timedelta(days=180))

    assert deleted == 4
    assert messages(old) == ["step 4"]
    assert len(messages(recent)) == 3 and len(messages(in_flight)) == 4
    assert Checkout.objects.filter(pk=old.pk).exists()  # the receipt stays
    assert prune_checkout_events(older_than=timedelta(days=180)) == 0


def test_the_daily_task_follows_the_setting_and_zero_keeps_everything(settings):
    old = launch_with_events(state="cancelled", ended_days_ago=400, events=3)

    settings.ESAP_EVENT_RETENTION_DAYS = 0
    kept = checkout_events_prune()
    settings.ESAP_EVENT_RETENTION_DAYS = 365
    pruned = checkout_events_prune()

    assert (kept, pruned) == (0, 2) and messages(old) == ["step 2"]


def test_operators_prune_on_demand_with_a_retention_of_at_least_a_day():
    launch_with_events(state="ready", ended_days_ago=40, events=3)
    out = StringIO()

    call_command("prune_checkout_events", "--days", "30", stdout=out)

    assert out.getvalue().strip() == "Deleted 2 event(s) of launches over for more than 30 day(s)."
    with pytest.raises(CommandError, match="at least 1"):
        call_command("prune_checkout_events", "--days", "0")
