"""Parameter injection the papermill way: values reach the notebook as data in a cell tagged
`injected-parameters`, rendered by a translator that escapes them, never as pasted code text.

No Django here."""
import copy
import json
import keyword
import math
import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

INJECTED_TAG = "injected-parameters"
PARAMETERS_TAG = "parameters"
HEADER = "# Parameters injected by esap"
# CPython's parser refuses literals nested about 200 brackets deep; refuse well before the kernel does.
MAX_DEPTH = 100
# Beyond ~4300 decimal digits CPython refuses int <-> str conversion; hex literals have no such limit.
MAX_DECIMAL_BITS = 4096
_ESCAPED = re.compile(r'["\\]|[^\x20-\x7e]')
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class UndeclaredParameterError(ValueError):
    """A value was offered for a name the notebook's parameters cell does not declare."""


class PythonTranslator:
    """Renders JSON-like values as Python literals.

    Every string is written as a double-quoted literal in which anything that could end the literal,
    break the line or hide code (quotes, backslashes, control, separator, format and non-printable
    characters, lone surrogates) is escaped. Subclasses of str, int and float are read through the
    builtin type, so an overridden __repr__ or __str__ never reaches the cell."""

    def render(self, values: Mapping[str, Any]) -> str:
        lines = [HEADER]
        for name, value in values.items():
            if not is_parameter_name(name):
                raise ValueError(f"{_shown(name)} is not a valid Python variable name")
            lines.append(f"{name} = {self.render_value(value)}")
        return "\n".join(lines)

    def render_value(self, value: Any) -> str:
        return self._render(value, depth=0)

    def _render(self, value: Any, depth: int) -> str:
        if depth > MAX_DEPTH:
            raise ValueError(f"values nested more than {MAX_DEPTH} levels deep cannot be injected")
        if value is None or isinstance(value, bool):
            return repr(value)
        if isinstance(value, int):
            return self._int(int.__index__(value))
        if isinstance(value, float):
            return self._float(float.__float__(value))
        if isinstance(value, str):
            return self._string(str.__str__(value))
        if isinstance(value, (list, tuple)):
            return "[" + ", ".join(self._render(item, depth + 1) for item in value) + "]"
        if isinstance(value, Mapping):
            return self._dict(value, depth)
        raise TypeError(f"cannot inject a value of type {type(value).__name__}")

    def _int(self, value: int) -> str:
        return repr(value) if value.bit_length() <= MAX_DECIMAL_BITS else hex(value)

    def _float(self, value: float) -> str:
        if math.isnan(value):
            return "float('nan')"
        if math.isinf(value):
            return "float('inf')" if value > 0 else "float('-inf')"
        return repr(value)

    def _dict(self, value: Mapping, depth: int) -> str:
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"cannot inject a dict key of type {type(key).__name__}; keys must be strings")
            items.append(f"{self._string(str.__str__(key))}: {self._render(item, depth + 1)}")
        return "{" + ", ".join(items) + "}"

    def _string(self, text: str) -> str:
        return '"' + _ESCAPED.sub(_escape, text) + '"'


def _escape(match: re.Match) -> str:
    character = match.group()
    code = ord(character)
    if character in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[character]
    # Printable non-ASCII (letters, emoji) is kept for readability; str.isprintable() is False for
    # control, format (e.g. RTL override), separator (U+2028/9), private-use and unassigned characters.
    if code > 0x7F and character.isprintable() and not 0xD800 <= code <= 0xDFFF:
        return character
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def is_parameter_name(name: Any) -> bool:
    """A Python identifier that is not a keyword and names the variable it spells (identifiers are
    NFKC-normalised by the parser, so a look-alike such as 'ｐrint' would assign `print`)."""
    return (isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)
            and unicodedata.normalize("NFKC", name) == name)


def check_names(values: Mapping[str, Any], declared: Iterable[str]) -> None:
    if isinstance(declared, str):
        raise TypeError("declared must be a collection of names, not a single string")
    allowed = set(declared)
    for name in values:
        if not is_parameter_name(name):
            raise UndeclaredParameterError(f"{_shown(name)} is not a valid parameter name")
        if name not in allowed:
            raise UndeclaredParameterError(f"the notebook does not declare a parameter named {_shown(name)}")


def inject_parameters(notebook: dict, values: Mapping[str, Any], *, declared: Iterable[str],
                      translator: PythonTranslator | None = None) -> dict:
    """A new notebook with the values in an `injected-parameters` cell right after the `parameters`
    cell (first, when there is none), replacing any earlier injected cell, and a copy of the values
    in metadata.esap.parameters. The input notebook is not changed."""
    check_names(values, declared)
    source = (translator or PythonTranslator()).render(values)
    recorded = _json_copy(values)
    result = copy.deepcopy(notebook)
    cells = [cell for cell in result.get("cells", []) if INJECTED_TAG not in _tags(cell)]
    position = next((index + 1 for index, cell in enumerate(cells)
                     if cell.get("cell_type") == "code" and PARAMETERS_TAG in _tags(cell)), 0)
    cells.insert(position, _code_cell(source, taken={cell.get("id") for cell in cells}))
    result["cells"] = cells
    _ensure_cell_ids(result)
    metadata = result.setdefault("metadata", {})
    esap = metadata.get("esap") if isinstance(metadata.get("esap"), dict) else {}
    metadata["esap"] = {**esap, "parameters": recorded}
    return result


def code_cells_to_execute(notebook: dict, first_cells: int | None) -> list[int]:
    """Indexes (into notebook["cells"]) of the code cells to run at launch: by default every code cell
    up to and including the injected cell; with `first_cells`, the first N code cells (as many as
    there are, when N is larger)."""
    cells = notebook.get("cells", [])
    code = [index for index, cell in enumerate(cells) if cell.get("cell_type") == "code"]
    if first_cells is None:
        injected = next((index for index in code if INJECTED_TAG in _tags(cells[index])), None)
        if injected is None:
            raise ValueError("the notebook has no injected-parameters cell; inject the parameters first")
        return [index for index in code if index <= injected]
    if isinstance(first_cells, bool) or not isinstance(first_cells, int):
        raise TypeError(f"first_cells must be an int or None, not {type(first_cells).__name__}")
    if first_cells < 0:
        raise ValueError(f"first_cells must not be negative (got {first_cells})")
    return code[:first_cells]


def apply_outputs(notebook: dict, results: Mapping[int, tuple[int | None, list[dict]]]) -> dict:
    """A copy of the notebook with each executed cell's execution count and outputs written in."""
    result = copy.deepcopy(notebook)
    cells = result.get("cells", [])
    for index, (execution_count, outputs) in results.items():
        if not 0 <= index < len(cells) or cells[index].get("cell_type") != "code":
            raise ValueError(f"cell {index} is not a code cell of this notebook")
        cells[index]["execution_count"] = execution_count
        cells[index]["outputs"] = copy.deepcopy(list(outputs))
    return result


def _json_copy(values: Mapping[str, Any]) -> dict[str, Any]:
    # The notebook is saved as strict JSON (the hub client refuses NaN), so what cannot be written
    # there is refused here, naming the parameter, rather than failing later at upload.
    copied = {}
    for name, value in values.items():
        try:
            copied[name] = json.loads(json.dumps(value, allow_nan=False))
        except (TypeError, ValueError) as error:
            raise ValueError(f"the value of {_shown(name)} cannot be stored in the notebook: {error}") from error
    return copied


def _tags(cell: dict) -> list[str]:
    return list((cell.get("metadata") or {}).get("tags") or [])


def _code_cell(source: str, *, taken: set) -> dict:
    return {"cell_type": "code", "id": _fresh_id(taken), "execution_count": None,
            "metadata": {"tags": [INJECTED_TAG]}, "outputs": [], "source": source}


def _fresh_id(taken: set) -> str:
    while True:
        cell_id = f"esap-{uuid.uuid4().hex[:12]}"
        if cell_id not in taken:
            return cell_id


def _ensure_cell_ids(notebook: dict) -> None:
    # Cell ids exist from nbformat 4.5 on: an older notebook is upgraded the way nbformat does it,
    # since a 4.0-4.4 notebook whose cells carry ids would not validate.
    if notebook.get("nbformat", 4) == 4 and notebook.get("nbformat_minor", 0) < 5:
        notebook["nbformat_minor"] = 5
        taken = {cell.get("id") for cell in notebook.get("cells", [])}
        for cell in notebook.get("cells", []):
            if "id" not in cell:
                cell["id"] = _fresh_id(taken)
                taken.add(cell["id"])


def _shown(name: Any) -> str:
    text = repr(name)
    return text if len(text) <= 80 else text[:79] + "…"
