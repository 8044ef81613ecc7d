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
class StagingTarget:
    """Where the data must end up: the facility's storage and how its servers see it."""

    facility_slug: str
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


class DataSource(Protocol):
    kind: str
    label: str

    def stage(self, identifiers: list[str], *, target: StagingTarget) -> list[StagedDataset]:
        """Make the datasets reachable on the target; repeatable (a second call redoes nothing)."""
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
