"""Finding the notebooks of a checked-out repository: only its own files are read, and only so much."""
import json
from pathlib import Path

import pytest
from nbformat.v4 import new_markdown_cell, new_notebook

from workflows.harvest import scan
from workflows.harvest.notebooks import NotebookError
from workflows.harvest.scan import scan_repository


def write_notebook(path: Path, title: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(new_notebook(cells=[new_markdown_cell(f"# {title}")])))
    return path


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    root = tmp_path / "clone"
    write_notebook(root / "analysis" / "crab.ipynb", "Crab timing")
    return root


def found_paths(root: Path) -> list[str]:
    return [found.path for found in scan_repository(root).notebooks]


def problems_of(root: Path) -> dict[str, str]:
    return {problem["path"]: problem["problem"] for problem in scan_repository(root).problems}


def test_a_notebook_that_links_to_a_device_is_reported_and_not_read(clone):
    (clone / "zero.ipynb").symlink_to("/dev/zero")

    assert found_paths(clone) == ["analysis/crab.ipynb"]
    assert "symbolic link" in problems_of(clone)["zero.ipynb"]


def test_a_notebook_that_links_outside_the_clone_is_reported_and_not_published(clone, tmp_path):
    secret = write_notebook(tmp_path / "worker" / "secret.ipynb", "Worker secret")
    (clone / "secret.ipynb").symlink_to(secret)

    titles = [found.info.title for found in scan_repository(clone).notebooks]

    assert titles == ["Crab timing"]
    assert "symbolic link" in problems_of(clone)["secret.ipynb"]


def test_a_notebook_that_links_inside_the_clone_is_reported_once_and_read_at_its_real_path(clone):
    (clone / "latest.ipynb").symlink_to(clone / "analysis" / "crab.ipynb")

    assert found_paths(clone) == ["analysis/crab.ipynb"]
    assert "symbolic link" in problems_of(clone)["latest.ipynb"]


def test_a_directory_that_links_outside_the_clone_is_not_entered(clone, tmp_path):
    write_notebook(tmp_path / "worker" / "home" / "private.ipynb", "Private")
    (clone / "home").symlink_to(tmp_path / "worker" / "home")

    assert found_paths(clone) == ["analysis/crab.ipynb"]
    assert problems_of(clone) == {}


def test_hidden_folders_and_checkpoints_are_not_harvested(clone):
    write_notebook(clone / ".github" / "ci.ipynb", "CI")
    write_notebook(clone / "analysis" / ".ipynb_checkpoints" / "crab-checkpoint.ipynb", "Crab timing")

    assert found_paths(clone) == ["analysis/crab.ipynb"]


def test_a_notebook_over_the_size_limit_is_reported(clone, monkeypatch):
    monkeypatch.setattr(scan, "MAX_NOTEBOOK_BYTES", 1024 * 1024)
    (clone / "big.ipynb").write_bytes(b" " * (1024 * 1024 + 1))

    assert found_paths(clone) == ["analysis/crab.ipynb"]
    assert problems_of(clone)["big.ipynb"] == "larger than 1 MiB"


def test_a_file_is_read_only_up_to_the_limit_whatever_size_it_reports():
    # /dev/zero reports a size of 0 and never ends: a file that lies about its size or keeps growing
    with pytest.raises(NotebookError, match="larger than 20 MiB"):
        scan.read_notebook_file(Path("/dev/zero"))
