"""The data-source adapter contract and its registry. Adapters take plain values, return dataclasses,
and import no Django, so each can be tested against its real server without a database."""
from dataclasses import dataclass, field
from typing import Any, Protocol


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
    deadline_seconds: int = 600


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
