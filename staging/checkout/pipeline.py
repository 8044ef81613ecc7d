"""Runs a checkout from its current state to ready or failed. Safe to run twice: a lease keeps a second
delivery from running alongside the first, and every step is idempotent against its remote system."""
import logging
import os
import socket
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django import db
from django.db import connection
from django.utils import timezone

from esap.errors import EsapError, ServiceError
from staging.checkout import hub_access, machine, steps
from staging.checkout.states import SERVER_TO_STOP, STEPS, State, next_step
from staging.models import Checkout

log = logging.getLogger(__name__)
WORKER = f"{socket.gethostname()}:{os.getpid()}"

STEP_FUNCTIONS = {
    State.STAGING: steps.stage,
    State.SPAWNING: steps.spawn,
    State.UPLOADING: steps.upload,
    State.EXECUTING: steps.execute,
}
ENTRY_MESSAGES = {
    State.STAGING: "Staging your datasets.",
    State.SPAWNING: "Starting your server.",
    State.UPLOADING: "Uploading the notebook with your data's parameters.",
    State.EXECUTING: "Running the notebook's first cells.",
    State.READY: "Your notebook is ready.",
}


def run(checkout_id: str) -> None:
    # One holder name per run, not per process: two deliveries may land on two threads of one worker.
    holder = f"{WORKER}:{uuid.uuid4().hex[:8]}"
    if not machine.claim(checkout_id, worker=holder):
        log.info("checkout %s: another run holds it; leaving it alone", checkout_id)
        return
    heartbeat = Heartbeat(checkout_id, holder)
    heartbeat.start()
    try:
        hand_off = _advance(checkout_id, holder, started=time.monotonic())
    finally:
        heartbeat.stop()
        machine.release(checkout_id, worker=holder)
    if hand_off:
        _continue_in_a_new_task(checkout_id)


class Heartbeat(threading.Thread):
    """Renews the lease while a run is alive, however long a step takes; dies with the worker. A database
    error is waited out: renewals go on. Renewing only ever extends a lease still held, so if the lease ran
    out meanwhile and the sweeper handed the checkout on, the step learns it at its next report (its
    Reporter renews in phase) and stops."""

    def __init__(self, checkout_id: str, holder: str) -> None:
        super().__init__(daemon=True, name=f"lease-{checkout_id}")
        self.checkout_id, self.holder = checkout_id, holder
        self.interval = max(0.5, settings.ESAP_CHECKOUT_LEASE_SECONDS / 3)
        self._stopped = threading.Event()
        self._renewed_at = time.monotonic()

    def run(self) -> None:
        try:
            while not self._stopped.wait(self.interval):
                self._renew()
        finally:
            connection.close()

    def _renew(self) -> None:
        try:
            machine.renew(self.checkout_id, worker=self.holder)
            self._renewed_at = time.monotonic()
        except db.Error as error:  # "database is locked", a failover: the next renewal may get through
            connection.close()  # a broken connection is not reopened by Django outside a request
            unrenewed = time.monotonic() - self._renewed_at
            level = logging.ERROR if unrenewed > settings.ESAP_CHECKOUT_LEASE_SECONDS else logging.WARNING
            log.log(level, "checkout %s: lease not renewed for %.0f s (lease %s s): %s", self.checkout_id,
                    unrenewed, settings.ESAP_CHECKOUT_LEASE_SECONDS, error)

    def stop(self) -> None:
        self._stopped.set()
        self.join()


def _advance(checkout_id: str, holder: str, *, started: float) -> bool:
    """Run steps until the launch is ready or stops; True when the next step should run in a new task."""
    machine.transition(checkout_id, source=State.CREATED, target=State.STAGING,
                       message=ENTRY_MESSAGES[State.STAGING], held_by=holder)
    while True:
        checkout = Checkout.objects.select_related("facility", "workflow", "workflow_version").get(
            pk=checkout_id)
        state = State(checkout.state)
        if state not in STEPS:
            return False
        fields = _run_step(checkout, state, holder)
        if fields is None:
            return False
        target = next_step(state)
        if not machine.transition(checkout_id, source=state, target=target,
                                  message=ENTRY_MESSAGES[target], held_by=holder, **fields):
            log.info("checkout %s: moved on or taken over while %s ran; stopping", checkout_id, state)
            stop_server_of_ended_launch(checkout_id, quiet_if_absent=True)  # only if it ended meanwhile
            return False
        if target == State.READY:
            _announce_end(checkout_id)
        elif time.monotonic() - started > settings.CELERY_TASK_SOFT_TIME_LIMIT * HAND_OFF_AFTER:
            return True


# The task's time limit covers everything a run does. A run goes on to the next step itself only while it
# has used little of that limit, so that each step starts with nearly all of it (a long download does not
# leave the spawn a few seconds); a quick launch never waits on the broker between its steps.
HAND_OFF_AFTER = 0.1


def _continue_in_a_new_task(checkout_id: str) -> None:
    from staging.tasks import checkout_run

    machine.mark_queued([checkout_id])
    try:
        checkout_run.delay(checkout_id)
    except Exception:  # the broker: the sweeper enqueues it once the queued mark runs out
        log.exception("checkout %s: could not enqueue its next step", checkout_id)


def _run_step(checkout: Checkout, state: State, holder: str) -> dict[str, Any] | None:
    """The step's fields for the transition, or None when it failed (recorded), was abandoned or waits."""
    report = steps.Reporter(checkout.pk, state,
                            lambda: machine.renew_in_phase(checkout.pk, worker=holder, phase=state.value))
    try:
        return STEP_FUNCTIONS[state](checkout, report) or {}
    except steps.StepAbandoned as abandoned:
        log.info("%s; stopping", abandoned)
        stop_server_of_ended_launch(checkout.pk, quiet_if_absent=True)
    except steps.NotYet as waiting:
        _park(checkout, state, holder, waiting)
    except EsapError as error:
        _fail(checkout, state, holder, error)
    except SoftTimeLimitExceeded:
        limit = settings.CELERY_TASK_SOFT_TIME_LIMIT
        _fail(checkout, state, holder, ServiceError("step.time_limit", seconds=limit))
    except Exception:
        log.exception("checkout %s: step %s crashed", checkout.pk, state)
        _fail(checkout, state, holder, ServiceError("internal"))
    return None


def _park(checkout: Checkout, state: State, holder: str, waiting: steps.NotYet) -> None:
    """Give the worker back and run the step again later. If that scheduled run is lost (a broker
    restart), the sweeper picks the checkout up once the parking time is over."""
    from staging.tasks import checkout_run

    until = timezone.now() + timedelta(seconds=waiting.retry_in)
    if not machine.park(checkout.pk, worker=holder, phase=state.value, until=until):
        return  # cancelled (or taken over) meanwhile
    machine.record(checkout.pk, phase=state, message=f"{waiting.message}; looking again in "
                                                    f"{_duration(waiting.retry_in)}.",
                   data={"waiting_until": until.isoformat(), "waiting_on": waiting.source})
    checkout_run.apply_async((str(checkout.pk),), countdown=waiting.retry_in)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _fail(checkout: Checkout, state: State, holder: str, error: EsapError) -> None:
    log.info("checkout %s: %s failed: %s", checkout.pk, state, error.code)
    if machine.transition(
        checkout.pk, source=state, target=State.FAILED, message=error.message, held_by=holder,
        data={"code": error.code, "step": state.value}, failed_step=state.value,
        error_code=error.code, error_message=error.message,
    ):
        _announce_end(checkout.pk)


def _announce_end(checkout_id: Any) -> None:
    from staging.tasks import checkout_announce_end

    try:
        checkout_announce_end.delay(str(checkout_id))
    except Exception:  # the broker: the launch has ended all the same, only its e-mail is lost
        log.exception("checkout %s: could not enqueue its e-mail", checkout_id)


def stop_server_of_ended_launch(checkout_id: Any, *, quiet_if_absent: bool = False) -> None:
    """The server of a cancelled or stopped launch is stopped and forgotten on the hub, and the outcome
    is an event. Runs from the user's request (a task) and again, `quiet_if_absent`, from a step that
    notices a cancel, in case that step started the server after the first stop."""
    checkout = Checkout.objects.select_related("facility").get(pk=checkout_id)
    if checkout.state not in SERVER_TO_STOP or not checkout.server_name or checkout.facility is None:
        return
    phase = State(checkout.state)
    try:
        with hub_access.translated_errors():
            known = hub_access.client_for(checkout.facility).stop_server(checkout.hub_username,
                                                                         checkout.server_name)
    except EsapError as error:
        log.warning("checkout %s: could not stop server %s: %s", checkout.pk, checkout.server_name, error.code)
        machine.record(checkout.pk, phase=phase, message=f"The server could not be stopped: {error.message}",
                       data={"server_stopped": False, "code": error.code})
        return
    if known or not quiet_if_absent:
        outcome = "stopped on" if known else "was already gone from"  # culled, or an earlier stop finished
        machine.record(checkout.pk, phase=phase, message=f"Server {checkout.server_name} {outcome} "
                                                        f"{checkout.facility_slug}.",
                       data={"server_stopped": True})


def sweep_stale() -> int:
    """Re-enqueue checkouts left mid-step by a worker that died (its lease ran out), whose scheduled look
    was lost, or whose task has waited on the queue for ESAP_REQUEUE_AFTER_SECONDS (a lost message)."""
    from staging.tasks import checkout_run

    stale_before = timezone.now() - timedelta(seconds=1)
    stale = Checkout.objects.filter(state__in=[State.CREATED, *STEPS]).exclude(lease_until__gt=stale_before)
    ids = [str(pk) for pk in stale.values_list("pk", flat=True)]
    machine.mark_queued(ids)
    for checkout_id in ids:
        checkout_run.delay(checkout_id)
    return len(ids)
