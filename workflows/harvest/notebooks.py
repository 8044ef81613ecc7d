"""What a notebook says about itself: title, description, kernel and papermill-style parameters.

No Django here: the harvester and the tests use it on plain notebook dicts."""
import ast
import html
import io
import json
import math
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import nbformat

DESCRIPTION_LIMIT = 500
PARAMETERS_TAG = "parameters"
JSON_TYPES = (str, int, float, bool, list, dict, type(None))


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
    """Parse and validate an nbformat 4 notebook as a plain dict, or raise NotebookError saying why."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise NotebookError(f"not UTF-8 text: {error}") from error
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotebookError(f"not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise NotebookError(f"not a notebook: the JSON is a {type(document).__name__}, not an object")
    if document.get("nbformat") != 4:
        raise NotebookError(f"nbformat {document.get('nbformat')!r} is not supported, only nbformat 4")
    try:
        notebook = nbformat.reads(text, as_version=4, capture_validation_error={})
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several unrelated classes for invalid documents
        raise NotebookError(f"not a valid nbformat 4 notebook: {_first_line(error)}") from error
    return json.loads(json.dumps(notebook))


def read_notebook_info(notebook: dict) -> NotebookInfo:
    metadata = notebook.get("metadata") or {}
    kernelspec = metadata.get("kernelspec") or {}
    language_info = metadata.get("language_info") or {}
    title, description = describe(notebook.get("cells") or [])
    language = kernelspec.get("language") or language_info.get("name") or "python"
    cell = parameters_cell(notebook)
    if cell and str(language).lower() != "python":
        # Injected values are written as Python literals; in another language they would be code that
        # does not parse, or worse. Without the tag the notebook launches as it is.
        raise ParameterCellError(f"this {language} notebook has a cell tagged 'parameters': values are injected "
                                 "into Python notebooks only; remove the tag to launch it without them")
    return NotebookInfo(
        title=title,
        description=description,
        kernel_name=kernelspec.get("name") or "python3",
        language=language,
        parameters=parse_parameters(cell_source(cell)) if cell else (),
    )


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def cell_tags(cell: dict) -> list[str]:
    return list((cell.get("metadata") or {}).get("tags") or [])


def parameters_cell(notebook: dict) -> dict | None:
    """The first code cell tagged `parameters`, as papermill finds it."""
    return next((cell for cell in notebook.get("cells") or []
                 if cell.get("cell_type") == "code" and PARAMETERS_TAG in cell_tags(cell)), None)


# --- parameters ------------------------------------------------------------------------------------

def parse_parameters(source: str) -> tuple[Parameter, ...]:
    """Each `name = literal` or `name: type = literal` of a parameters cell; anything else is refused."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        line = error.lineno or 1  # None for a NUL byte anywhere in the source
        raise ParameterCellError(f"parameters cell line {line}: not valid Python ({error.msg})") from error
    comments = _trailing_comments(source)
    parameters: dict[str, Parameter] = {}
    first_lines: dict[str, int] = {}
    for statement in tree.body:
        parameter = _parameter(statement, comments.get(statement.end_lineno))
        if parameter.name in parameters:
            raise ParameterCellError(f"parameters cell line {statement.lineno}: {parameter.name!r} is already "
                                     f"assigned on line {first_lines[parameter.name]}")
        parameters[parameter.name] = parameter
        first_lines[parameter.name] = statement.lineno
    return tuple(parameters.values())


def _parameter(statement: ast.stmt, comment: str | None) -> Parameter:
    line = statement.lineno
    name, value, annotation = _assignment(statement)
    try:
        default = ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, RecursionError) as error:
        raise ParameterCellError(f"parameters cell line {line}: {_refusal(value)} is not allowed as the value "
                                 f"of {name!r}, only a literal (found `{_snippet(value)}`)") from error
    problem = _not_json(default)
    if problem:
        raise ParameterCellError(f"parameters cell line {line}: the default of {name!r} must be JSON data "
                                 f"(str, int, float, bool, None, list, dict with string keys), found {problem}")
    return Parameter(name, default, type(default).__name__, annotation, comment)


def _assignment(statement: ast.stmt) -> tuple[str, ast.expr, str | None]:
    """Name, value and annotation of a plain assignment to one name; ParameterCellError otherwise."""
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target = statement.targets[0]
        if isinstance(target, ast.Name):
            return target.id, statement.value, None
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) and statement.value:
        return statement.target.id, statement.value, ast.unparse(statement.annotation)
    raise ParameterCellError(f"parameters cell line {statement.lineno}: {_refusal(statement)} is not allowed; "
                             f"only `name = literal` or `name: type = literal` (found `{_snippet(statement)}`)")


_REFUSALS: dict[type, str] = {
    ast.Import: "an import", ast.ImportFrom: "an import", ast.AugAssign: "an augmented assignment",
    ast.Expr: "an expression statement", ast.FunctionDef: "a function definition",
    ast.AsyncFunctionDef: "a function definition", ast.ClassDef: "a class definition",
    ast.Call: "a function call", ast.Name: "a reference to another name",
    ast.Attribute: "an attribute access", ast.Lambda: "a lambda", ast.JoinedStr: "an f-string",
    ast.AnnAssign: "an annotation without a value", ast.Delete: "a del statement",
}


def _refusal(node: ast.AST) -> str:
    if isinstance(node, ast.Assign):
        if len(node.targets) > 1:
            return "a chained assignment"
        if isinstance(node.targets[0], (ast.Tuple, ast.List, ast.Starred)):
            return "tuple unpacking"
        return "an assignment to something other than a plain name"
    if isinstance(node, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
        return "a control-flow statement"
    return _REFUSALS.get(type(node), "an expression")


def _not_json(value: Any) -> str | None:
    """What in a default cannot be stored and offered as JSON, or None when all of it can."""
    if not isinstance(value, JSON_TYPES):
        return f"a value of type `{type(value).__name__}`"
    if isinstance(value, float) and not math.isfinite(value):
        return f"the number {value!r}"
    if isinstance(value, dict) and not all(isinstance(key, str) for key in value):
        return "a dict whose keys are not all strings"
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return next((problem for problem in map(_not_json, children) if problem), None)


def _trailing_comments(source: str) -> dict[int, str | None]:
    """Comment text by line. A comment is a parameter's help text when it sits on the line where the
    assignment ends; a tokenizer, unlike splitting at '#', knows a '#' inside a string from a comment."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return {}
    return {token.start[0]: token.string.lstrip("#").strip() or None
            for token in tokens if token.type == tokenize.COMMENT}


def _snippet(node: ast.AST) -> str:
    text = ast.unparse(node)
    first = text.splitlines()[0] if text else ""
    return first if first == text and len(text) <= 80 else first[:79] + "…"


# --- title and description ----------------------------------------------------------------------------

_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def describe(cells: list[dict]) -> tuple[str | None, str | None]:
    """The first heading of the markdown cells and the first prose paragraph after it (or the first
    prose paragraph at all, when there is no heading), both as plain text."""
    blocks = [(kind, _plain(text)) for kind, text in _markdown_blocks(cells)]
    headings = [index for index, (kind, text) in enumerate(blocks) if kind == "heading" and text]
    start = headings[0] + 1 if headings else 0
    title = blocks[headings[0]][1] if headings else None
    description = next((text for kind, text in blocks[start:] if kind == "paragraph" and text), None)
    return title, _truncate(description, DESCRIPTION_LIMIT) if description else None


def _markdown_blocks(cells: list[dict]) -> Iterator[tuple[str, str]]:
    """("heading", text) and ("paragraph", text) blocks of the markdown cells, in order, outside code fences."""
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            yield from _blocks(cell_source(cell).splitlines())


def _blocks(lines: list[str]) -> Iterator[tuple[str, str]]:
    paragraph: list[str] = []
    fence: str | None = None
    for line in (line[:_RAW_LIMIT] for line in lines):
        if fence or _FENCE.match(line):
            fence = _fence_state(fence, line)
            yield from _flush(paragraph)
            continue
        heading = _HEADING.match(line)
        if paragraph and len(paragraph) == 1 and _SETEXT.match(line):
            yield "heading", paragraph.pop()
        elif heading or _SETEXT.match(line) or not line.strip():
            yield from _flush(paragraph)
            if heading and heading.group(2):
                yield "heading", heading.group(2)
        else:
            paragraph.append(_BLOCK_PREFIX.sub("", line.strip()))
    yield from _flush(paragraph)


def _fence_state(fence: str | None, line: str) -> str | None:
    marker = line.strip()[:3]
    if fence is None:
        return marker
    return None if marker == fence else fence


def _flush(paragraph: list[str]) -> Iterator[tuple[str, str]]:
    if paragraph:
        yield "paragraph", " ".join(paragraph)
        paragraph.clear()


_INLINE = [
    (re.compile(r"<!--.*?-->", re.DOTALL), ""),
    (re.compile(r"!\[[^\]]*\]\([^)]*\)"), ""),  # images say nothing in plain text
    (re.compile(r"\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]*)\]\[[^\]]*\]"), r"\1"),
    (re.compile(r"<(https?://[^>\s]+)>"), r"\1"),
    (re.compile(r"`+([^`]+?)`+"), r"\1"),
    (re.compile(r"(\*\*|__|~~)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?!\*)"), r"\1"),
    (re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)"), r"\1"),
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])"), r"\1"),
]
_BLOCK_PREFIX = re.compile(r"^(?:>\s*)+|^(?:[-*+]|\d+[.)])\s+")
_TAG = re.compile(r"<[^>]*>")
# Regular expressions over hostile text: look at a bounded prefix so no line or paragraph costs much.
_RAW_LIMIT = 10_000


def _plain(markdown: str) -> str:
    """Markdown inline syntax removed; HTML is left as text for the templates to escape. Markup-only
    text (badges, images, rules, layout tags) yields ''."""
    text = markdown[:_RAW_LIMIT]
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    text = " ".join(html.unescape(text).split())
    return text if re.search(r"\w", _TAG.sub("", text)) else ""


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__
