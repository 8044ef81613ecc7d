"""Finding the notebooks and environment files of a checked-out repository. No Django here."""
import os
from collections.abc import Iterator
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
    """Every notebook that reads cleanly, and a problem per file that does not (never an exception).

    Symbolic links are never followed: the repository must not make the harvester read files of the
    machine it runs on (a link to /dev/zero, to a secret) or publish them in the catalogue."""
    root = root.resolve()
    result = ScanResult(environment=environment_files(root))
    for path in sorted(_notebook_paths(root)):
        relative = path.relative_to(root).as_posix()
        try:
            result.notebooks.append(_read(root, path, relative))
        except NotebookError as error:
            result.problems.append({"path": relative, "problem": str(error)})
    return result


def environment_files(root: Path) -> list[str]:
    """What the notebooks need to run: environment files at the top and under binder/ or .binder/."""
    found = [name for name in ENVIRONMENT_FILES if (root / name).is_file()]
    for folder in ("binder", ".binder"):
        found += [f"{folder}/{name}" for name in ENVIRONMENT_FILES if (root / folder / name).is_file()]
    return found


def read_notebook_file(path: Path) -> bytes:
    """The file's bytes, reading at most one byte past the limit: its reported size may be false or grow."""
    try:
        with open(path, "rb", opener=_open_without_following) as file:
            content = file.read(MAX_NOTEBOOK_BYTES + 1)
    except OSError as error:
        raise NotebookError(f"could not be read: {error.strerror}") from error
    if len(content) > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"larger than {MAX_NOTEBOOK_BYTES // (1024 * 1024)} MiB")
    return content


def _notebook_paths(root: Path) -> Iterator[Path]:
    """The .ipynb files under root; linked and hidden folders (.git, .ipynb_checkpoints) are not entered."""
    for folder, subfolders, files in os.walk(root, followlinks=False):
        subfolders[:] = [name for name in subfolders
                         if not _hidden(name) and not os.path.islink(os.path.join(folder, name))]
        yield from (Path(folder, name) for name in files if name.endswith(".ipynb") and not _hidden(name))


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _read(root: Path, path: Path, relative: str) -> FoundNotebook:
    if path.is_symlink() or not path.resolve().is_relative_to(root):
        raise NotebookError("a symbolic link; links are not followed")
    notebook = load_notebook(read_notebook_file(path))
    return FoundNotebook(path=relative, notebook=notebook, info=read_notebook_info(notebook))


def _open_without_following(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW)
