"""The built-in data source: small files in a folder the facility's servers can read (the embedded demo
runs its hub on the same machine, so the folder's absolute path is the location)."""
import os
from dataclasses import dataclass
from pathlib import Path

from staging.sources.base import (
    DatasetRecord, DatasetRef, Report, StagedDataset, StagingError, StagingTarget, register, silent,
)

KIND = "local"


@dataclass
class LocalFolderSource:
    kind: str = KIND
    label: str = "Local sample files"
    root: Path | None = None

    def folder(self) -> Path:
        if self.root is not None:
            return self.root
        return Path(os.environ.get("ESAP_DEMO_DATA_DIR", Path(__file__).parents[2] / "esap/demo/data"))

    def scan(self) -> list[DatasetRecord]:
        """Every file under the folder, identified by its relative path."""
        root = self.folder().resolve()
        return [self._record(root, path) for path in sorted(root.rglob("*")) if path.is_file()]

    def stage(self, datasets: list[DatasetRef], *, target: StagingTarget | None = None,
              report: Report = silent) -> list[StagedDataset]:
        return [StagedDataset(ref.identifier, str(self._resolve(ref.identifier))) for ref in datasets]

    def _resolve(self, identifier: str) -> Path:
        root = self.folder().resolve()
        path = (root / identifier).resolve()
        if not path.is_relative_to(root):
            raise StagingError(identifier, "the path leaves the data folder")
        if not path.is_file():
            raise StagingError(identifier, "no such file in the data folder")
        return path

    def _record(self, root: Path, path: Path) -> DatasetRecord:
        relative = path.relative_to(root).as_posix()
        return DatasetRecord(
            source=self.kind,
            identifier=relative,
            title=path.stem.replace("_", " ").replace("-", " ").capitalize(),
            size_bytes=path.stat().st_size,
            metadata={"format": path.suffix.lstrip(".").lower(), "keywords": relative.split("/")[:-1]},
        )


local_source = register(LocalFolderSource())
