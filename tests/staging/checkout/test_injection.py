"""Injecting the cart's values into a notebook: where the cell goes, what it may hold, and that no
value, however hostile, can execute anything."""
import ast
import json
import math
import subprocess
import sys

import nbformat
import pytest
from hypothesis import given, settings, strategies as st
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from staging.checkout.injection import (
    INJECTED_TAG, PythonTranslator, UndeclaredParameterError, apply_outputs, code_cells_to_execute,
    inject_parameters,
)

DECLARED = {"datasets", "dataset_paths", "facility", "profile"}


def notebook(with_parameters: bool = True) -> dict:
    nb = new_notebook()
    cells = [new_markdown_cell("# Title"), new_code_cell("import math")]
    if with_parameters:
        parameters = new_code_cell('datasets = []\nfacility = "x"')
        parameters.metadata["tags"] = ["parameters"]
        cells.append(parameters)
    cells += [new_code_cell("print(datasets)"), new_code_cell("print('later')")]
    nb.cells = cells
    return json.loads(json.dumps(nb))


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def test_injected_cell_goes_right_after_the_parameters_cell():
    result = inject_parameters(notebook(), {"datasets": ["a"]}, declared=DECLARED)

    assert tags(result["cells"][2]) == ["parameters"]
    assert tags(result["cells"][3]) == [INJECTED_TAG]
    assert result["cells"][3]["source"].splitlines() == ["# Parameters injected by esap", 'datasets = ["a"]']
    nbformat.validate(nbformat.from_dict(result))


def test_injecting_again_replaces_the_earlier_injected_cell():
    once = inject_parameters(notebook(), {"datasets": ["a"]}, declared=DECLARED)
    twice = inject_parameters(once, {"datasets": ["b"]}, declared=DECLARED)

    injected = [cell for cell in twice["cells"] if INJECTED_TAG in tags(cell)]
    assert len(injected) == 1 and 'datasets = ["b"]' in injected[0]["source"]
    assert len(twice["cells"]) == len(once["cells"])


def test_without_a_parameters_cell_the_injected_cell_comes_first():
    result = inject_parameters(notebook(with_parameters=False), {"facility": "f"}, declared=DECLARED)

    assert tags(result["cells"][0]) == [INJECTED_TAG]


def test_values_are_copied_into_notebook_metadata_and_the_input_is_untouched():
    original = notebook()
    before = json.dumps(original, sort_keys=True)

    result = inject_parameters(original, {"datasets": ["a"], "profile": "small"}, declared=DECLARED)

    assert result["metadata"]["esap"]["parameters"] == {"datasets": ["a"], "profile": "small"}
    assert json.dumps(original, sort_keys=True) == before


@pytest.mark.parametrize("name", ["undeclared", "__import__", "os.system", "class", "a b", ""])
def test_only_declared_identifier_names_are_accepted(name):
    with pytest.raises(UndeclaredParameterError):
        inject_parameters(notebook(), {name: 1}, declared=DECLARED | {"class"})


def test_values_of_unknown_types_are_refused():
    with pytest.raises(TypeError, match="object"):
        PythonTranslator().render({"x": object()})
    with pytest.raises(TypeError, match="keys"):
        PythonTranslator().render({"x": {1: "a"}})


def test_cells_to_execute_default_to_everything_up_to_the_injected_cell():
    result = inject_parameters(notebook(), {"datasets": []}, declared=DECLARED)

    assert code_cells_to_execute(result, None) == [1, 2, 3]
    assert code_cells_to_execute(result, 4) == [1, 2, 3, 4]
    assert code_cells_to_execute(result, 99) == [1, 2, 3, 4, 5]
    assert code_cells_to_execute(result, 0) == []
    with pytest.raises(ValueError):
        code_cells_to_execute(result, -1)


def test_outputs_are_written_back_into_a_copy():
    result = inject_parameters(notebook(), {"datasets": []}, declared=DECLARED)
    output = {"output_type": "stream", "name": "stdout", "text": "[]\n"}

    executed = apply_outputs(result, {4: (7, [output])})

    assert executed["cells"][4]["outputs"] == [output] and executed["cells"][4]["execution_count"] == 7
    assert result["cells"][4]["outputs"] == []
    nbformat.validate(nbformat.from_dict(executed))


HOSTILE_CORPUS = [
    "'", '"', '"""', "'''", "\\", "trailing backslash\\", "\\\\", "line\nbreak", "carriage\rreturn",
    "nul\x00byte", "sep\u2028arator", "para\u2029graph", "lone \ud800 surrogate", "{}{0}{name}", "%s%d%%",
    "__import__('os').system('touch PWNED')",
    '"); import os; os.system("touch PWNED"); ("',
    '\\"\n__import__("os").system("touch PWNED")',
    '"""\nimport os\nos.system("touch PWNED")\n"""',
    "'''; __import__('os').system('touch PWNED'); '''",
    "\\N{LATIN SMALL LETTER A}", "\\x41\\u0041", "f'{__import__(\"os\")}'",
    "🚀 emoji ✓ 漢字", "\u202eright-to-left override", "\t\x0b\x0c\x1b[31m",
    "x" * 100_000,
]


def literal_only(source: str) -> bool:
    tree = ast.parse(source)
    allowed = (ast.Constant, ast.List, ast.Dict, ast.Load, ast.UnaryOp, ast.USub)
    for statement in tree.body:
        if not isinstance(statement, ast.Assign):
            return False
        for node in ast.walk(statement.value):
            is_float_call = (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                             and node.func.id == "float")
            if not (isinstance(node, allowed) or is_float_call or
                    (isinstance(node, ast.Name) and node.id == "float")):
                return False
    return True


def test_hostile_values_stay_data_when_the_rendered_cell_really_runs(tmp_path):
    values = {"datasets": HOSTILE_CORPUS, "dataset_paths": [{"nested": HOSTILE_CORPUS[:10]}],
              "facility": HOSTILE_CORPUS[16], "profile": HOSTILE_CORPUS[18]}
    source = PythonTranslator().render(values)
    assert literal_only(source)

    trailer = ("\nimport json, sys\nsys.stdout.write(json.dumps({'datasets': datasets, "
               "'dataset_paths': dataset_paths, 'facility': facility, 'profile': profile}))")
    run = subprocess.run([sys.executable, "-I", "-c", source + trailer], cwd=tmp_path,
                         capture_output=True, timeout=60)

    assert run.returncode == 0, run.stderr.decode()
    assert json.loads(run.stdout) == values
    assert not (tmp_path / "PWNED").exists()


@settings(max_examples=200, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12))
def test_any_json_like_value_round_trips_as_a_literal(value):
    source = PythonTranslator().render({"value": value})
    namespace: dict = {}

    assert literal_only(source)
    exec(compile(source, "<injected>", "exec"), {"__builtins__": {"float": float}}, namespace)
    assert namespace["value"] == value


def test_special_floats_render_as_floats():
    namespace: dict = {}
    exec(PythonTranslator().render({"a": math.inf, "b": -math.inf, "c": math.nan}),
         {"__builtins__": {"float": float}}, namespace)

    assert namespace["a"] == math.inf and namespace["b"] == -math.inf and math.isnan(namespace["c"])
