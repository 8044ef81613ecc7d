"""The checkout's steps. Each is idempotent against its remote system: an existing server of ours counts
as spawned, a PUT of contents is repeatable. Execution is the exception: it is guarded by a stored marker,
and a retry runs the cells on a fresh kernel, not on the one an earlier run may have left busy. No
database transaction is held across remote calls."""
import posixpath
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.utils import timezone

from esap.errors import ServiceError, UserError
from facilities.hub.client import HubClient
from facilities.hub.errors import ServerLimitReached
from facilities.models import Facility
from staging.checkout import hub_access, machine
from staging.checkout.injection import (
    UndeclaredParameterError, apply_outputs, code_cells_to_execute, inject_parameters,
)
from staging.checkout.states import SERVER_TO_STOP, State
from staging.models import Checkout
from staging.sources.base import (
    DatasetRef, SourceUnavailable, StagingError, StagingPending, StagingTarget, get_source,
)
from workflows.models import Workflow, WorkflowVersion


class StepAbandoned(Exception):
    """The checkout left the step while it ran (cancelled by the user, or taken over): stop working."""


class NotYet(Exception):
    """Remote work the step started is still under way (data copying into the facility's storage): run
    the step again in `retry_in` seconds from a new task instead of holding a worker while it lasts."""

    def __init__(self, message: str, retry_in: float, *, source: str = "") -> None:
        self.message, self.retry_in, self.source = message, retry_in, source
        super().__init__(message)


@dataclass
class Reporter:
    """Writes in-phase events (e.g. the hub's spawn messages) and renews the worker's lease. Long steps
    report at least every few seconds, so this is also where they learn that the checkout moved on."""

    checkout_id: Any
    phase: State
    keep_alive: Callable[[], bool]

    def __call__(self, message: str, progress: int | None = None, **data: Any) -> None:
        if not self.keep_alive():
            raise StepAbandoned(f"checkout {self.checkout_id} is no longer {self.phase.value}")
        machine.record(self.checkout_id, phase=self.phase, message=message, progress=progress, data=data)


def stage(checkout: Checkout, report: Reporter) -> dict:
    facility = _facility(checkout)
    target = StagingTarget(facility_slug=facility.slug, staging_mode=facility.staging_mode,
                           rse_expression=facility.data_rse_expression, mount_path=facility.data_mount_path,
                           deadline_seconds=facility.staging_deadline_seconds,
                           started_at=(checkout.state_since or timezone.now()).timestamp(),
                           wait_seconds=settings.ESAP_STAGING_WAIT_SECONDS,
                           recheck_seconds=settings.ESAP_STAGING_RECHECK_SECONDS,
                           seen=_last_progress(checkout))
    staged = []
    grouped, waited_on = _by_source(checkout.datasets), _waited_on(checkout)
    # A later look asks first after what it waits for; the other sources are staged again only once that
    # has arrived (fresh access URLs for the notebook), not at every look.
    for source in sorted(grouped, key=lambda kind: kind not in waited_on):
        refs = grouped[source]
        def source_report(message: str, progress: int | None = None, _source: str = source,
                          **data: Any) -> None:
            report(message, progress, source=_source, **data)
        try:
            results = get_source(source).stage(refs, target=target, report=source_report)
        except StagingPending as waiting:
            raise NotYet(waiting.detail, waiting.retry_in, source=source) from waiting
        except SourceUnavailable as error:
            if waited_on and time.time() < target.deadline_at:
                # Hours into a copy, a blip of the data lake's server is no reason to give up on it.
                raise NotYet(error.detail, target.recheck_in(time.time()), source=source) from error
            raise ServiceError("staging.unavailable", identifier=error.identifier,
                               detail=error.detail) from error
        except StagingError as error:
            raise UserError("staging.failed", identifier=error.identifier, detail=error.detail) from error
        except LookupError as error:
            raise UserError("staging.failed", identifier=refs[0].identifier, detail=str(error)) from error
        staged += [{**r.details, "source": source, "identifier": r.identifier, "location": r.location}
                   for r in results]
        report(f"Staged {len(results)} dataset(s) from {source}.", data_count=len(results))
    return {"staged": _in_cart_order(staged, checkout.datasets)}


def _in_cart_order(staged: list[dict], datasets: list[dict]) -> list[dict]:
    """The notebook gets `dataset_paths[i]` for `datasets[i]`, whatever order the sources were staged in."""
    position = {(d["source"], d["identifier"]): index for index, d in enumerate(datasets)}
    return sorted(staged, key=lambda item: position.get((item["source"], item["identifier"]), len(position)))


def _waited_on(checkout: Checkout) -> set[str]:
    """The sources this staging has been parked for (empty if it never was): their data is on the way."""
    parked = _this_staging(checkout).filter(data__has_key="waiting_until")
    return {event.data.get("waiting_on", "") for event in parked.only("data")}


def _last_progress(checkout: Checkout) -> dict[str, int] | None:
    """The copy's counts as an earlier run of this staging last reported them, if one did."""
    last = _this_staging(checkout).filter(data__has_key="replicating").last()
    return {key: last.data[key] for key in ("ok", "replicating", "stuck")} if last else None


def _this_staging(checkout: Checkout):
    events = checkout.events.filter(phase=State.STAGING)
    return events.filter(created_at__gte=checkout.state_since) if checkout.state_since else events


def spawn(checkout: Checkout, report: Reporter) -> dict:
    facility = _facility(checkout)
    server_name = checkout.server_name or f"esap-{checkout.pk.hex[:12]}"
    Checkout.objects.filter(pk=checkout.pk).update(server_name=server_name)
    with hub_access.translated_errors():
        client = hub_access.client_for(facility)
        hub_access.ensure_hub_user(client, facility, checkout.hub_username)
        server = client.get_server(checkout.hub_username, server_name)
        if server is None or not (server.ready or server.pending):
            _start_server(client, checkout, server_name)
        if not (server and server.ready):
            for event in client.follow_progress(checkout.hub_username, server_name,
                                                deadline_seconds=facility.spawn_deadline_seconds):
                report(event.message or "Waiting for the hub.", event.progress, source="hub")
    return {"server_name": server_name}


def _start_server(client: HubClient, checkout: Checkout, server_name: str) -> None:
    def start() -> None:
        client.start_server(checkout.hub_username, server_name, {"profile": checkout.profile_slug},
                            display_name=checkout.workflow_title)
    try:
        start()
    except ServerLimitReached:
        if not _remove_stopped_servers_of_ended_launches(client, checkout):
            raise
        start()


def _remove_stopped_servers_of_ended_launches(client: HubClient, checkout: Checkout) -> int:
    """A server the hub stopped but still knows counts against its limit of named servers per user. Those
    of the user's stopped or cancelled launches (culled before the portal removed them) serve nobody, and
    the user has no stop left to press for them: they are removed. How many were."""
    ended = Checkout.objects.filter(facility=checkout.facility, hub_username=checkout.hub_username,
                                    state__in=SERVER_TO_STOP).exclude(server_name="")
    stale = set(ended.values_list("server_name", flat=True)) & client.stopped_servers(checkout.hub_username)
    for name in stale:
        client.stop_server(checkout.hub_username, name, remove=True)
    return len(stale)


def upload(checkout: Checkout, report: Reporter) -> dict:
    workflow = checkout.workflow
    if workflow is None:
        raise UserError("notebook.missing")
    source = checkout.workflow_version or workflow  # a pinned version, or the workflow as it is now
    notebook = _notebook_for(checkout, source)
    remote_path = _remote_path(checkout)
    with hub_access.server_of(checkout) as server:
        server.wait_until_reachable()
        server.ensure_directory(posixpath.dirname(remote_path))
        server.put_notebook(remote_path, notebook)
    report(f"Uploaded {remote_path}.")
    return {"remote_path": remote_path}


def _remote_path(checkout: Checkout) -> str:
    """A folder per launch: named servers share the user's home, so a second launch of the same workflow
    must not overwrite the first one's notebook, nor the files its cells write beside it."""
    return posixpath.join(settings.ESAP_NOTEBOOK_DIR, checkout.pk.hex[:12],
                          posixpath.basename(checkout.notebook_path))


def execute(checkout: Checkout, report: Reporter) -> dict:
    if checkout.execution_started_at is not None:
        raise ServiceError("notebook.interrupted")
    Checkout.objects.filter(pk=checkout.pk).update(execution_started_at=timezone.now())
    first_cells = checkout.workflow.first_cells if checkout.workflow else None
    source = checkout.workflow_version or checkout.workflow
    if source is None:
        raise UserError("notebook.missing")
    kernel_name = source.kernel_name
    with hub_access.server_of(checkout) as server:
        notebook = server.get_notebook(checkout.remote_path)
        indexes = code_cells_to_execute(notebook, first_cells)
        sources = [_source(notebook["cells"][index]) for index in indexes]
        if checkout.session_id:
            # An earlier run of these cells (timed out, or cut short with its worker) may still be busy
            # in that kernel, which would never answer this run: the cells run on a fresh one.
            server.delete_session(checkout.session_id)
        # The kernel starts here, just before its channels are opened, not one step earlier: the notebook
        # server answers a connection made while a kernel is still starting only at its next half-second
        # "nudge" (about 0.5 s lost per launch, measured in benchmarks/launch.py).
        session = server.create_session(checkout.remote_path, kernel_name)
        Checkout.objects.filter(pk=checkout.pk).update(kernel_id=session.kernel_id, session_id=session.session_id)
        results = server.execute(session.kernel_id, session.session_id, sources,
                                 timeout_per_cell=settings.ESAP_CELL_TIMEOUT_SECONDS)
        executed = dict(zip(indexes, ((r.execution_count, r.outputs) for r in results)))
        server.put_notebook(checkout.remote_path, apply_outputs(notebook, executed))
    report(f"Ran {len(results)} of {len(indexes)} cell(s) on kernel {kernel_name}.")
    _raise_for_cell_error(results, indexes, notebook)
    return {"lab_url": _lab_url(checkout)}


def _raise_for_cell_error(results: list, indexes: list[int], notebook: dict) -> None:
    for position, result in enumerate(results):
        if result.status == "timeout":
            raise UserError("notebook.kernel_timeout", cell=position + 1,
                            seconds=settings.ESAP_CELL_TIMEOUT_SECONDS)
        if result.status == "error":
            raise UserError("notebook.cell_error", cell=position + 1, ename=result.ename, evalue=result.evalue)


def _facility(checkout: Checkout) -> Facility:
    if checkout.facility is None:
        raise UserError("facility.missing")
    return checkout.facility


def _by_source(datasets: list[dict]) -> dict[str, list[DatasetRef]]:
    grouped: dict[str, list[DatasetRef]] = {}
    for dataset in datasets:
        ref = DatasetRef(dataset["identifier"], dataset.get("metadata") or {})
        grouped.setdefault(dataset["source"], []).append(ref)
    return grouped


def _notebook_for(checkout: Checkout, workflow: "Workflow | WorkflowVersion") -> dict:
    """The workflow's notebook with the cart's values injected, and the launch recorded in metadata."""
    offered = {
        "datasets": [d["identifier"] for d in checkout.datasets],
        "dataset_paths": [s["location"] for s in checkout.staged],
        "staged_datasets": checkout.staged,
        "facility": checkout.facility_slug,
        "profile": checkout.profile_slug,
    }
    declared = workflow.parameter_names
    try:
        notebook = inject_parameters(workflow.notebook, {k: v for k, v in offered.items() if k in declared},
                                     declared=declared)
    except (UndeclaredParameterError, TypeError, ValueError) as error:
        raise UserError("notebook.parameters", detail=str(error)) from error
    notebook["metadata"].setdefault("esap", {})["launch"] = {
        "checkout": str(checkout.pk), "workflow_commit": checkout.workflow_commit,
        "facility": checkout.facility_slug, "profile": checkout.profile_slug, "datasets": checkout.datasets,
    }
    return notebook


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _lab_url(checkout: Checkout) -> str:
    return (f"{checkout.facility.hub_url}/user/{checkout.hub_username}/{checkout.server_name}"
            f"/lab/tree/{quote(checkout.remote_path)}")
