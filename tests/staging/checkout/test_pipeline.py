"""The pipeline gives the worker back while a step waits on remote work (NotYet): the checkout is parked
until its next look, which is scheduled, and a cancel meanwhile leaves nothing scheduled. While a step
runs, its lease is renewed through database errors, so that no second run takes the checkout over; a run
that was taken over all the same moves nothing. A run that has used much of the task's time limit hands
the next step to a new task."""
import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from staging import services
from staging.checkout import machine, pipeline, steps
from staging.checkout.services import checkout_start
from staging.checkout.states import State
from staging.models import Checkout
from tests.factories import make_dataset, make_facility, make_user, make_workflow

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def scheduled(monkeypatch) -> list:
    """The next looks the pipeline schedules, recorded instead of sent to a broker."""
    looks = []
    monkeypatch.setattr("staging.tasks.checkout_run.delay", lambda *args: None)  # checkout_start's own run
    monkeypatch.setattr("staging.tasks.checkout_run.apply_async",
                        lambda args, countdown: looks.append((args, countdown)))
    return looks


def checked_out() -> Checkout:
    user = make_user()
    services.cart_add_dataset(user=user, dataset_id=make_dataset().pk)
    services.cart_choose_workflow(user=user, workflow_id=make_workflow().pk)
    services.cart_choose_facility(user=user, facility_slug=make_facility().slug)
    return checkout_start(user=user)


def staging_step(monkeypatch, step) -> None:
    monkeypatch.setitem(pipeline.STEP_FUNCTIONS, State.STAGING, step)


def test_a_step_waiting_on_remote_work_parks_the_checkout_and_schedules_the_next_look(monkeypatch, scheduled):
    def still_copying(checkout, report):
        raise steps.NotYet("Replicating: 1 of 3 file(s) on the facility's storage", 42.0)
    staging_step(monkeypatch, still_copying)
    checkout = checked_out()

    pipeline.run(str(checkout.pk))

    checkout.refresh_from_db()
    assert (checkout.state, checkout.leased_by) == ("staging", "")
    assert 30 < (checkout.lease_until - timezone.now()).total_seconds() <= 42
    assert checkout.events.last().message == ("Replicating: 1 of 3 file(s) on the facility's storage; "
                                               "looking again in 42 s.")
    assert scheduled == [((str(checkout.pk),), 42.0)]


def test_a_checkout_cancelled_while_its_step_looked_is_neither_parked_nor_looked_at_again(monkeypatch, scheduled):
    def cancelled_meanwhile(checkout, report):
        machine.transition(checkout.pk, source=State.STAGING, target=State.CANCELLED, message="Cancelled.")
        raise steps.NotYet("Replicating: 0 of 1 file(s) on the facility's storage", 5.0)
    staging_step(monkeypatch, cancelled_meanwhile)
    checkout = checked_out()

    pipeline.run(str(checkout.pk))

    checkout.refresh_from_db()
    assert (checkout.state, checkout.leased_by, checkout.lease_until) == ("cancelled", "", None)
    assert checkout.events.last().message == "Cancelled."
    assert scheduled == []


def test_fault_a_step_stopped_at_the_workers_time_limit_fails_saying_so_and_can_be_retried(monkeypatch, scheduled):
    # Celery raises this inside a task that ran past its soft limit (15 min by default); provoking it for
    # real would hold the suite's worker that long.
    from celery.exceptions import SoftTimeLimitExceeded

    from staging.checkout.services import checkout_retry

    def fake_download_past_the_time_limit(checkout, report):
        raise SoftTimeLimitExceeded()

    staging_step(monkeypatch, fake_download_past_the_time_limit)
    checkout = checked_out()

    pipeline.run(str(checkout.pk))

    checkout.refresh_from_db()
    assert (checkout.state, checkout.failed_step, checkout.error_code) == ("failed", "staging", "step.time_limit")
    limit = settings.CELERY_TASK_SOFT_TIME_LIMIT
    assert f"ran longer than a worker may spend on one task ({limit} s)" in checkout.error_message
    assert "Retry to go on from here" in checkout.error_message
    assert checkout_retry(user=checkout.user, pk=checkout.pk).state == "staging"


# --- the lease while a step runs ----------------------------------------------------------------------

class FlakyDatabase:
    """Stand-in for a database that refuses the lease's renewal (SQLite's "database is locked", a
    PostgreSQL failover): a real one cannot be provoked at the moment a renewal runs. Renewals fail while
    `failing` is set, then reach the real database."""

    def __init__(self, monkeypatch) -> None:
        self.failing, self.refused = threading.Event(), 0
        real_renew = machine.renew

        def renew(checkout_id, *, worker: str) -> None:
            if self.failing.is_set():
                self.refused += 1
                raise OperationalError("database is locked")
            real_renew(checkout_id, worker=worker)
        monkeypatch.setattr(machine, "renew", renew)


@pytest.fixture
def flaky_database(monkeypatch, settings) -> FlakyDatabase:
    settings.ESAP_CHECKOUT_LEASE_SECONDS = 1  # renewed every 0.5 s
    return FlakyDatabase(monkeypatch)


def test_fault_a_database_error_while_renewing_the_lease_does_not_let_a_second_run_take_the_step(
        monkeypatch, scheduled, flaky_database):
    swept = []

    def reports_rarely(checkout, report):
        flaky_database.failing.set()
        _until(lambda: flaky_database.refused, seconds=5)
        flaky_database.failing.clear()
        time.sleep(2)  # twice the lease, without a report: only the heartbeat keeps it
        swept.append(pipeline.sweep_stale())
        report("Still copying.")
        raise steps.NotYet("Replicating: 1 of 3 file(s) on the facility's storage", 60.0)
    staging_step(monkeypatch, reports_rarely)
    checkout = checked_out()

    pipeline.run(str(checkout.pk))

    assert flaky_database.refused == 1
    assert swept == [0]  # the sweeper saw a live lease and enqueued no second run
    assert scheduled == [((str(checkout.pk),), 60.0)]  # the step went on to park the checkout


def test_fault_a_step_whose_lease_ran_out_while_the_database_failed_stops_at_its_next_report(
        monkeypatch, scheduled, flaky_database):
    def outlives_its_lease(checkout, report):
        flaky_database.failing.set()
        time.sleep(2)
        assert pipeline.sweep_stale() == 1  # re-enqueued for another run to take over
        flaky_database.failing.clear()
        time.sleep(1)  # the heartbeat reaches the database again: it must not take the lease back
        report("Still copying.")
        raise AssertionError("the step went on after its checkout was taken over")
    staging_step(monkeypatch, outlives_its_lease)
    checkout = checked_out()

    pipeline.run(str(checkout.pk))

    checkout.refresh_from_db()
    assert flaky_database.refused >= 2
    assert (checkout.state, checkout.leased_by) == ("staging", machine.QUEUED)  # left to the next run
    assert scheduled == []


def _until(condition, *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture
def enqueued(monkeypatch) -> list:
    """Runs enqueued to go on right away, recorded instead of sent to a broker."""
    runs = []
    monkeypatch.setattr("staging.tasks.checkout_run.delay", lambda *args: runs.append(args))
    return runs


def test_a_run_that_used_much_of_the_time_limit_hands_the_next_step_to_a_new_task(monkeypatch, settings,
                                                                                  enqueued):
    # The limit covers the whole task: a spawn that followed a long download in the same task would start
    # with only what the download left of it.
    def a_long_download(checkout, report):
        time.sleep(0.2)
        return {}
    staging_step(monkeypatch, a_long_download)
    checkout = checked_out()
    enqueued.clear()  # checkout_start's own run
    settings.CELERY_TASK_SOFT_TIME_LIMIT = 1  # the download took a fifth of it

    pipeline.run(str(checkout.pk))

    checkout.refresh_from_db()
    assert (checkout.state, checkout.leased_by) == ("spawning", machine.QUEUED)
    assert checkout.events.last().message == "Starting your server."
    assert enqueued == [(str(checkout.pk),)]


def test_a_step_that_finishes_after_another_run_took_the_launch_over_does_not_move_it(monkeypatch, scheduled):
    def outlived_by_its_lease(checkout, report):
        Checkout.objects.filter(pk=checkout.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
        assert machine.claim(checkout.pk, worker="another-run")  # as the sweeper's next run does
        return {}
    staging_step(monkeypatch, outlived_by_its_lease)
    checkout = checked_out()

    pipeline.run(str(checkout.pk))

    checkout.refresh_from_db()
    assert (checkout.state, checkout.leased_by) == ("staging", "another-run")
    assert not checkout.events.filter(phase="spawning").exists()
