"""The data-source adapter contract and its registry. Adapters take plain values, return dataclasses,
and import no Django, so each can be tested against its real server without a database."""
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

MAX_RECHECK_SECONDS = 600.0


@dataclass(frozen=True)
class DatasetRecord:
    """A dataset as a source describes it, ready to become a catalogue entry."""

    source: str
    identifier: str
    title: str
    description: str = ""
    size_bytes: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetRef:
    """A dataset to stage, as the checkout recorded it: its identifier and the catalogue metadata the
    source wrote (instance, service, query, ...)."""

    identifier: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StagingTarget:
    """Where the data must end up: the facility's storage and how its servers see it."""

    facility_slug: str
    staging_mode: str = "download"  # "rule" (replicate to the facility's storage) or "download"
    rse_expression: str = ""
    mount_path: str = ""
    deadline_seconds: int = 600  # give up on data not there this long after staging began
    started_at: float = field(default_factory=time.time)  # when staging began (epoch; it may span runs)
    wait_seconds: float = 30.0  # how long one run waits on data in transit before handing the worker back
    recheck_seconds: float = 60.0  # the shortest pause before a later run looks again
    seen: dict[str, int] | None = None  # what an earlier run of this staging last reported: repeat only changes

    @property
    def deadline_at(self) -> float:
        return self.started_at + self.deadline_seconds

    def recheck_in(self, now: float) -> float:
        """Seconds until a later run should look again: soon at first, then a tenth of the time spent
        so far (a copy that took an hour is not checked every minute), never past the deadline."""
        interval = max(self.recheck_seconds, min((now - self.started_at) / 10, MAX_RECHECK_SECONDS))
        return max(0.0, min(interval, self.deadline_at - now))


@dataclass(frozen=True)
class StagedDataset:
    """A dataset made reachable from the facility's servers."""

    identifier: str
    location: str
    details: dict[str, Any] = field(default_factory=dict)


class StagingError(Exception):
    """A dataset could not be staged; the message is shown to the user."""

    def __init__(self, identifier: str, detail: str) -> None:
        self.identifier = identifier
        self.detail = detail
        super().__init__(f"{identifier}: {detail}")


class StagingPending(Exception):
    """The data is on its way (a replication rule still copying) and the deadline is not reached: a later
    run should look again in `retry_in` seconds rather than a worker wait for hours."""

    def __init__(self, detail: str, retry_in: float) -> None:
        self.detail, self.retry_in = detail, retry_in
        super().__init__(detail)


class SourceUnavailable(StagingError):
    """The source could not be used at all (down, hanging, refusing the portal's credentials): an outage
    or the operators' to fix, not the user's; a retry later may succeed."""


class Report(Protocol):
    """Writes a progress event the user sees live (and renews the worker's lease): call it while
    waiting on long work."""

    def __call__(self, message: str, progress: int | None = None, **data: Any) -> None: ...


def silent(message: str, progress: int | None = None, **data: Any) -> None:
    """A Report for callers with nobody to tell."""


class DataSource(Protocol):
    kind: str
    label: str

    def stage(self, datasets: list[DatasetRef], *, target: StagingTarget,
              report: Report = silent) -> list[StagedDataset]:
        """Make the datasets reachable on the target; repeatable (a second call redoes nothing).
        Everything in a result's `details` reaches the notebook in `staged_datasets`."""
        ...


_REGISTRY: dict[str, DataSource] = {}


def register(source: DataSource) -> DataSource:
    _REGISTRY[source.kind] = source
    return source


def get_source(kind: str) -> DataSource:
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise LookupError(f"No data source of kind {kind!r} is registered.") from None


def source_kinds() -> list[tuple[str, str]]:
    return sorted((source.kind, source.label) for source in _REGISTRY.values())
