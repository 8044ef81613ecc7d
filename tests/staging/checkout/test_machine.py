"""The checkout state machine: one table of moves, compare-and-set transitions, an event per move,
and the cart frozen at checkout, given back on failure or cancel, consumed when ready."""
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from esap.errors import UserError
from staging import services
from staging.checkout import machine, pipeline
from staging.checkout import services as checkout_services
from staging.checkout.services import checkout_start
from staging.checkout.states import STEPS, TRANSITIONS, State, allowed, next_step
from staging.models import Cart, Checkout
from tests.factories import make_dataset, make_facility, make_user, make_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_worker(monkeypatch):
    """These tests drive the machine by hand: the enqueued task is recorded, not run."""
    enqueued = []
    monkeypatch.setattr("staging.tasks.checkout_run.delay", enqueued.append)
    return enqueued


def checked_out(user=None) -> Checkout:
    user = user or make_user()
    services.cart_add_dataset(user=user, dataset_id=make_dataset().pk)
    services.cart_choose_workflow(user=user, workflow_id=make_workflow().pk)
    services.cart_choose_facility(user=user, facility_slug=make_facility().slug)
    return checkout_start(user=user)


def test_the_happy_path_goes_through_every_step_in_order():
    assert [next_step(step) for step in STEPS] == [*STEPS[1:], State.READY]
    assert allowed(State.CREATED, State.STAGING) and not allowed(State.CREATED, State.READY)


def test_ended_checkouts_go_nowhere_but_a_ready_one_to_stopped_and_failed_ones_only_back_to_a_step_or_cancelled():
    assert TRANSITIONS[State.CANCELLED] == TRANSITIONS[State.STOPPED] == frozenset()
    assert TRANSITIONS[State.READY] == frozenset({State.STOPPED})
    assert TRANSITIONS[State.FAILED] == frozenset({*STEPS, State.CANCELLED})


def test_a_move_the_table_forbids_raises():
    checkout = checked_out()

    with pytest.raises(ValueError, match="cannot go from created to ready"):
        machine.transition(checkout.pk, source=State.CREATED, target=State.READY, message="skip")


def test_the_pipeline_is_enqueued_only_once_the_checkout_is_committed(no_worker,
                                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        checkout = checked_out()
        assert no_worker == []

    for callback in callbacks:
        callback()
    assert no_worker == [str(checkout.pk)]


def test_a_transition_is_a_compare_and_set_with_one_event():
    checkout = checked_out()

    assert machine.transition(checkout.pk, source=State.CREATED, target=State.STAGING, message="go")
    assert not machine.transition(checkout.pk, source=State.CREATED, target=State.STAGING, message="again")

    checkout.refresh_from_db()
    assert checkout.state == State.STAGING
    assert list(checkout.events.values_list("phase", "message")) == [
        ("created", "Checkout created."), ("staging", "go")]


def test_the_cart_is_frozen_at_checkout_and_given_back_on_failure():
    user = make_user()
    checkout = checked_out(user)
    cart = Cart.objects.get(user=user)
    assert cart.frozen_by_id == checkout.pk
    with pytest.raises(UserError, match="being checked out"):
        services.cart_add_dataset(user=user, dataset_id=make_dataset().pk)
    with pytest.raises(UserError, match="being checked out"):
        checkout_start(user=user)

    machine.transition(checkout.pk, source=State.CREATED, target=State.FAILED, message="broken")

    cart.refresh_from_db()
    assert cart.frozen_by is None and cart.items.count() == 1 and cart.workflow is not None


@pytest.mark.django_db(transaction=True)
def test_two_checkouts_of_one_cart_at_once_launch_once(monkeypatch):
    user = make_user()
    services.cart_add_dataset(user=user, dataset_id=make_dataset().pk)
    services.cart_choose_workflow(user=user, workflow_id=make_workflow().pk)
    services.cart_choose_facility(user=user, facility_slug=make_facility().slug)
    both_read_the_cart = threading.Barrier(2)
    check = checkout_services._check_ready_for_checkout

    def check_after_the_other_read(cart):  # the widest window a double click could open
        try:
            both_read_the_cart.wait(timeout=1)
        except threading.BrokenBarrierError:
            pass  # the other request waits for this one's cart: what must happen
        check(cart)

    monkeypatch.setattr(checkout_services, "_check_ready_for_checkout", check_after_the_other_read)
    outcomes: list[str] = []

    def click() -> None:
        try:
            checkout_start(user=user)
            outcomes.append("started")
        except UserError as error:
            outcomes.append(error.code)
        finally:
            connection.close()

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()

    assert sorted(outcomes) == ["cart.frozen", "started"]
    assert Checkout.objects.filter(user=user).count() == 1


def test_the_cart_is_given_back_on_cancel_and_consumed_when_ready():
    cancelled_user, ready_user = make_user(), make_user()
    cancelled, ready = checked_out(cancelled_user), checked_out(ready_user)

    machine.transition(cancelled.pk, source=State.CREATED, target=State.CANCELLED, message="stop")
    Checkout.objects.filter(pk=ready.pk).update(state=State.EXECUTING)
    machine.transition(ready.pk, source=State.EXECUTING, target=State.READY, message="done")

    assert Cart.objects.get(user=cancelled_user).items.count() == 1
    consumed = Cart.objects.get(user=ready_user)
    assert consumed.frozen_by is None and consumed.items.count() == 0 and consumed.workflow is None


def test_a_lease_keeps_a_second_worker_out_until_it_expires(settings):
    checkout = checked_out()

    assert machine.claim(checkout.pk, worker="w1")
    assert not machine.claim(checkout.pk, worker="w2")
    assert machine.claim(checkout.pk, worker="w1")  # the holder may claim again
    settings.ESAP_CHECKOUT_LEASE_SECONDS = -1
    machine.renew(checkout.pk, worker="w1")
    assert machine.claim(checkout.pk, worker="w2")


def test_a_parked_checkout_is_free_of_workers_and_the_sweeper_leaves_it_alone_until_its_time(no_worker):
    checkout = checked_out()
    machine.transition(checkout.pk, source=State.CREATED, target=State.STAGING, message="staging")
    assert machine.claim(checkout.pk, worker="w1")

    assert machine.park(checkout.pk, worker="w1", phase="staging", until=timezone.now() + timedelta(minutes=5))
    machine.release(checkout.pk, worker="w1")  # what the run does on its way out: the parking stays

    parked = Checkout.objects.get(pk=checkout.pk)
    assert parked.leased_by == "" and parked.lease_until > timezone.now()
    assert not machine.claim(checkout.pk, worker="w2")  # not before its time,
    no_worker.clear()
    assert pipeline.sweep_stale() == 0 and no_worker == []  # not even by the sweeper
    Checkout.objects.filter(pk=checkout.pk).update(lease_until=timezone.now() - timedelta(seconds=5))
    assert pipeline.sweep_stale() == 1 and no_worker == [str(checkout.pk)]  # a lost scheduled run is made up for


def test_a_launch_waiting_its_turn_on_the_queue_is_enqueued_again_only_once_its_message_may_be_lost(
        settings, no_worker):
    settings.ESAP_REQUEUE_AFTER_SECONDS = 300
    checkout = checked_out()
    no_worker.clear()

    assert pipeline.sweep_stale() == 0  # a queue of thousands is not doubled every sweep
    Checkout.objects.filter(pk=checkout.pk).update(lease_until=timezone.now() - timedelta(seconds=5))
    assert pipeline.sweep_stale() == 1 and no_worker == [str(checkout.pk)]  # five minutes without a worker
    assert pipeline.sweep_stale() == 0  # and again only five minutes later
    assert machine.claim(checkout.pk, worker="w1")  # whichever copy reaches a worker first runs it
    assert not machine.claim(checkout.pk, worker="w2")


def test_a_launch_whose_worker_died_mid_step_is_enqueued_again_as_soon_as_its_lease_ends(settings, no_worker):
    settings.ESAP_REQUEUE_AFTER_SECONDS = 300
    checkout = checked_out()
    machine.transition(checkout.pk, source=State.CREATED, target=State.STAGING, message="staging")
    assert machine.claim(checkout.pk, worker="w1")
    no_worker.clear()
    assert pipeline.sweep_stale() == 0  # its worker is alive and renewing

    Checkout.objects.filter(pk=checkout.pk).update(lease_until=timezone.now() - timedelta(seconds=5))  # died

    assert pipeline.sweep_stale() == 1 and no_worker == [str(checkout.pk)]


def test_parking_refuses_a_checkout_that_moved_on_meanwhile():
    checkout = checked_out()
    machine.transition(checkout.pk, source=State.CREATED, target=State.STAGING, message="staging")
    assert machine.claim(checkout.pk, worker="w1")
    machine.transition(checkout.pk, source=State.STAGING, target=State.CANCELLED, message="cancelled")

    assert not machine.park(checkout.pk, worker="w1", phase="staging", until=timezone.now())


def test_each_state_records_since_when_it_holds():
    checkout = checked_out()
    before = timezone.now()

    machine.transition(checkout.pk, source=State.CREATED, target=State.STAGING, message="staging")

    assert before <= Checkout.objects.get(pk=checkout.pk).state_since <= timezone.now()


@pytest.mark.parametrize("missing, expected", [
    ("datasets", "Add at least one dataset"), ("workflow", "Choose a workflow"), ("facility", "Choose a facility"),
])
def test_an_incomplete_cart_cannot_be_checked_out(missing, expected):
    user = make_user()
    if missing != "datasets":
        services.cart_add_dataset(user=user, dataset_id=make_dataset().pk)
    if missing != "workflow":
        services.cart_choose_workflow(user=user, workflow_id=make_workflow().pk)
    if missing != "facility":
        services.cart_choose_facility(user=user, facility_slug=make_facility().slug)

    with pytest.raises(UserError, match=expected):
        checkout_start(user=user)
    assert not Checkout.objects.filter(user=user).exists()


def test_a_launch_ends_once_failed_or_cancelled_but_a_later_stop_of_its_server_keeps_when_it_ended():
    checkout = checked_out()
    machine.transition(checkout.pk, source=State.CREATED, target=State.FAILED, message="failed")
    failed_at = Checkout.objects.get(pk=checkout.pk).finished_at
    machine.transition(checkout.pk, source=State.FAILED, target=State.CANCELLED, message="cancelled")
    ready = checked_out()
    Checkout.objects.filter(pk=ready.pk).update(state=State.READY, finished_at=failed_at)

    machine.transition(ready.pk, source=State.READY, target=State.STOPPED, message="stopped")

    assert Checkout.objects.get(pk=checkout.pk).finished_at > failed_at  # the cancel ended it
    assert Checkout.objects.get(pk=ready.pk).finished_at == failed_at
