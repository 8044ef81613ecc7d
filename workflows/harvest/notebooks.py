"""What a notebook says about itself: title, description, kernel and papermill-style parameters.
No Django here: the harvester and the tests use it on plain notebook dicts."""
import ast
import json
import re
from dataclasses import dataclass
from typing import Any

import nbformat

DESCRIPTION_LIMIT = 500


class NotebookError(ValueError):
    """The file is not a notebook we can read."""


class ParameterCellError(NotebookError):
    """The `parameters` cell holds something other than plain assignments of literals."""


@dataclass(frozen=True)
class Parameter:
    name: str
    default: Any
    type_name: str
    annotation: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class NotebookInfo:
    title: str | None
    description: str | None
    kernel_name: str
    language: str
    parameters: tuple[Parameter, ...]


def load_notebook(text: str | bytes) -> dict:
    """Parse and validate an nbformat 4 notebook, raising NotebookError with the reason."""
    try:
        json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise NotebookError(f"not valid JSON: {error}") from error
    try:
        notebook = nbformat.reads(text.decode() if isinstance(text, bytes) else text, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several unrelated classes for invalid documents
        raise NotebookError(f"not a valid nbformat 4 notebook: {_first_line(error)}") from error
    return json.loads(nbformat.writes(notebook))


def read_notebook_info(notebook: dict) -> NotebookInfo:
    kernelspec = notebook.get("metadata", {}).get("kernelspec", {}) or {}
    title, description = _title_and_description(notebook.get("cells", []))
    cell = parameters_cell(notebook)
    return NotebookInfo(
        title=title,
        description=description,
        kernel_name=kernelspec.get("name") or "python3",
        language=kernelspec.get("language") or notebook.get("metadata", {}).get("language_info", {}).get(
            "name", "python"),
        parameters=parse_parameters(cell_source(cell)) if cell else (),
    )


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def cell_tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []) or [])


def parameters_cell(notebook: dict) -> dict | None:
    return next((cell for cell in notebook.get("cells", [])
                 if cell.get("cell_type") == "code" and "parameters" in cell_tags(cell)), None)


def parse_parameters(source: str) -> tuple[Parameter, ...]:
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise ParameterCellError(f"parameters cell line {error.lineno}: not valid Python") from error
    lines = source.splitlines()
    return tuple(_parameter(statement, lines) for statement in tree.body)


def _parameter(statement: ast.stmt, lines: list[str]) -> Parameter:
    line = statement.lineno
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(
            statement.targets[0], ast.Name):
        name, value, annotation = statement.targets[0].id, statement.value, None
    elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) and statement.value:
        name, value, annotation = statement.target.id, statement.value, ast.unparse(statement.annotation)
    else:
        raise ParameterCellError(
            f"parameters cell line {line}: only `name = literal` assignments are allowed, "
            f"found `{ast.unparse(statement)[:80]}`")
    try:
        default = ast.literal_eval(value)
    except ValueError as error:
        raise ParameterCellError(
            f"parameters cell line {line}: the value of {name!r} must be a literal, "
            f"found `{ast.unparse(value)[:80]}`") from error
    return Parameter(name, default, type(default).__name__, annotation, _comment(lines[line - 1]))


def _comment(line: str) -> str | None:
    # A trailing comment after the literal; a '#' inside a string literal would need a tokenizer,
    # so only take the part after the last '#' when the code before it parses on its own.
    if "#" not in line:
        return None
    code, _, comment = line.rpartition("#")
    try:
        ast.parse(code)
    except SyntaxError:
        return None
    return comment.strip() or None


def _title_and_description(cells: list[dict]) -> tuple[str | None, str | None]:
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            continue
        lines = cell_source(cell).splitlines()
        for index, line in enumerate(lines):
            heading = re.match(r"^\s*#{1,6}\s+(.+?)\s*#*\s*$", line)
            if heading:
                return heading.group(1).strip(), _paragraph(lines[index + 1:])
    return None, None


def _paragraph(lines: list[str]) -> str | None:
    text = []
    for line in lines:
        if line.strip().startswith("#") and text:
            break
        if not line.strip():
            if text:
                break
            continue
        text.append(line.strip())
    paragraph = " ".join(text)
    return paragraph[:DESCRIPTION_LIMIT] or None


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
