"""Parameter injection the papermill way: values reach the notebook as data in a cell tagged
`injected-parameters`, rendered by a translator that escapes them, never as pasted code text."""
import copy
import keyword
import math
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

INJECTED_TAG = "injected-parameters"
PARAMETERS_TAG = "parameters"
HEADER = "# Parameters injected by esap"


class UndeclaredParameterError(ValueError):
    """A value was offered for a name the notebook's parameters cell does not declare."""


class PythonTranslator:
    """Renders JSON-like values as Python literals, escaping every string character that could end the
    literal or hide code (quotes, backslashes, line breaks, control and non-printable characters)."""

    def render(self, values: Mapping[str, Any]) -> str:
        lines = [HEADER] + [f"{name} = {self.render_value(value)}" for name, value in values.items()]
        return "\n".join(lines)

    def render_value(self, value: Any) -> str:
        if value is None or isinstance(value, bool):
            return repr(value)
        if isinstance(value, int):
            return str(int(value))
        if isinstance(value, float):
            return self._float(value)
        if isinstance(value, str):
            return self._string(value)
        if isinstance(value, (list, tuple)):
            return "[" + ", ".join(self.render_value(item) for item in value) + "]"
        if isinstance(value, Mapping):
            return self._dict(value)
        raise TypeError(f"cannot inject a value of type {type(value).__name__}")

    def _float(self, value: float) -> str:
        if math.isnan(value):
            return "float('nan')"
        if math.isinf(value):
            return "float('inf')" if value > 0 else "float('-inf')"
        return repr(value)

    def _dict(self, value: Mapping) -> str:
        if not all(isinstance(key, str) for key in value):
            raise TypeError("cannot inject a dict whose keys are not all strings")
        items = (f"{self._string(key)}: {self.render_value(item)}" for key, item in value.items())
        return "{" + ", ".join(items) + "}"

    def _string(self, text: str) -> str:
        return '"' + "".join(_escape(character) for character in text) + '"'


def _escape(character: str) -> str:
    code = ord(character)
    if character in ('"', "\\"):
        return "\\" + character
    if 0x20 <= code < 0x7F:
        return character
    if code > 0x7F and character.isprintable() and not 0xD800 <= code <= 0xDFFF:
        return character
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def check_names(values: Mapping[str, Any], declared: Iterable[str]) -> None:
    allowed = set(declared)
    for name in values:
        if not name.isidentifier() or keyword.iskeyword(name):
            raise UndeclaredParameterError(f"{name!r} is not a valid parameter name")
        if name not in allowed:
            raise UndeclaredParameterError(f"the notebook does not declare a parameter named {name!r}")


def inject_parameters(notebook: dict, values: Mapping[str, Any], *, declared: Iterable[str],
                      translator: PythonTranslator | None = None) -> dict:
    """A new notebook with an `injected-parameters` cell after the `parameters` cell (or first)."""
    check_names(values, declared)
    source = (translator or PythonTranslator()).render(values)
    result = copy.deepcopy(notebook)
    cells = [cell for cell in result.get("cells", []) if INJECTED_TAG not in _tags(cell)]
    position = next((index + 1 for index, cell in enumerate(cells)
                     if cell.get("cell_type") == "code" and PARAMETERS_TAG in _tags(cell)), 0)
    cells.insert(position, _code_cell(source))
    result["cells"] = cells
    result.setdefault("metadata", {}).setdefault("esap", {})["parameters"] = copy.deepcopy(dict(values))
    _ensure_minor_version(result)
    return result


def code_cells_to_execute(notebook: dict, first_cells: int | None) -> list[int]:
    """Indexes of the code cells to run at launch: by default all up to and including the injected cell;
    with `first_cells`, the first N code cells."""
    code = [index for index, cell in enumerate(notebook.get("cells", [])) if cell.get("cell_type") == "code"]
    if first_cells is not None:
        if first_cells < 0:
            raise ValueError("first_cells must not be negative")
        return code[:first_cells]
    injected = [index for index in code if INJECTED_TAG in _tags(notebook["cells"][index])]
    return [index for index in code if index <= injected[0]] if injected else []


def apply_outputs(notebook: dict, results: Mapping[int, tuple[int | None, list[dict]]]) -> dict:
    """A copy of the notebook with each executed cell's execution count and outputs written in."""
    result = copy.deepcopy(notebook)
    for index, (execution_count, outputs) in results.items():
        cell = result["cells"][index]
        cell["execution_count"] = execution_count
        cell["outputs"] = copy.deepcopy(list(outputs))
    return result


def _tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []) or [])


def _code_cell(source: str) -> dict:
    return {"cell_type": "code", "id": f"esap-{uuid.uuid4().hex[:12]}", "execution_count": None,
            "metadata": {"tags": [INJECTED_TAG]}, "outputs": [], "source": source}


def _ensure_minor_version(notebook: dict) -> None:
    # Cell ids exist from nbformat 4.5 on; an older notebook with an id would not validate.
    if notebook.get("nbformat", 4) == 4 and notebook.get("nbformat_minor", 0) < 5:
        notebook["nbformat_minor"] = 5
        for cell in notebook.get("cells", []):
            cell.setdefault("id", f"esap-{uuid.uuid4().hex[:12]}")
