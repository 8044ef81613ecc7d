"""Finding the notebooks and environment files of a checked-out repository. No Django here."""
from dataclasses import dataclass, field
from pathlib import Path

from workflows.harvest.notebooks import NotebookError, NotebookInfo, load_notebook, read_notebook_info

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
ENVIRONMENT_FILES = (
    "requirements.txt", "environment.yml", "environment.yaml", "pyproject.toml", "setup.py", "Project.toml",
    "install.R", "apt.txt", "postBuild", "runtime.txt", "Dockerfile",
)


@dataclass(frozen=True)
class FoundNotebook:
    path: str
    notebook: dict
    info: NotebookInfo


@dataclass
class ScanResult:
    notebooks: list[FoundNotebook] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)
    environment: list[str] = field(default_factory=list)


def scan_repository(root: Path) -> ScanResult:
    """Every notebook that reads cleanly, and a problem per file that does not (never an exception)."""
    result = ScanResult(environment=environment_files(root))
    for path in sorted(root.rglob("*.ipynb")):
        relative = path.relative_to(root).as_posix()
        if _skipped(relative):
            continue
        try:
            result.notebooks.append(_read(path, relative))
        except NotebookError as error:
            result.problems.append({"path": relative, "problem": str(error)})
    return result


def environment_files(root: Path) -> list[str]:
    """What the notebooks need to run: environment files at the top and under binder/ or .binder/."""
    found = [name for name in ENVIRONMENT_FILES if (root / name).is_file()]
    for folder in ("binder", ".binder"):
        found += [f"{folder}/{name}" for name in ENVIRONMENT_FILES if (root / folder / name).is_file()]
    return found


def _skipped(relative: str) -> bool:
    parts = relative.split("/")
    return any(part.startswith(".") for part in parts) or ".ipynb_checkpoints" in parts


def _read(path: Path, relative: str) -> FoundNotebook:
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"larger than {MAX_NOTEBOOK_BYTES // (1024 * 1024)} MiB")
    notebook = load_notebook(path.read_bytes())
    return FoundNotebook(path=relative, notebook=notebook, info=read_notebook_info(notebook))
